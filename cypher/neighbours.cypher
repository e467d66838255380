// The k nearest tokens of one token, best first.
// Parameters: $model, $id, $k.
MATCH (:Token {model: $model, id: $id})-[r:SIMILAR_TO]->(n:Token)
WHERE r.rank <= $k
RETURN n.id AS id, n.text AS text, r.score AS score, r.rank AS rank
ORDER BY r.rank
