// Every stored neighbour of one token, best first, with its variant key, the query token's own key (null when a token has none) and its community's label.
// Parameters: $model, $id.
MATCH (t:Token {model: $model, id: $id})-[r:SIMILAR_TO]->(n:Token)
OPTIONAL MATCH (c:Community {model: $model, id: n.community})
RETURN n.id AS id, n.text AS text, r.score AS score, r.rank AS rank,
  [(n)-[:VARIANT_OF]->(v:Variant) | v.key][0] AS key,
  [(t)-[:VARIANT_OF]->(v:Variant) | v.key][0] AS own_key,
  c.label AS community
ORDER BY r.rank
