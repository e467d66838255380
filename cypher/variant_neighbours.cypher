// Every stored neighbour of one token, best first, with its variant key and the query token's own key (null when a token has none).
// Parameters: $model, $id.
MATCH (t:Token {model: $model, id: $id})-[r:SIMILAR_TO]->(n:Token)
RETURN n.id AS id, n.text AS text, r.score AS score, r.rank AS rank,
  [(n)-[:VARIANT_OF]->(v:Variant) | v.key][0] AS key,
  [(t)-[:VARIANT_OF]->(v:Variant) | v.key][0] AS own_key
ORDER BY r.rank
