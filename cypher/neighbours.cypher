// The k nearest tokens of one token, best first, each with its community's label (null before an analysis).
// Parameters: $model, $id, $k.
MATCH (:Token {model: $model, id: $id})-[r:SIMILAR_TO]->(n:Token)
WHERE r.rank <= $k
OPTIONAL MATCH (c:Community {model: $model, id: n.community})
RETURN n.id AS id, n.text AS text, r.score AS score, r.rank AS rank, c.label AS community
ORDER BY r.rank
