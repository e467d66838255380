// The ten nearest tokens of a token by the model's vector index, as a table: the line `atlas vectors` prints for Neo4j Browser. The index is asked for 100 candidates (it is approximate: more candidates, fewer misses); its score is (1 + cosine) / 2.
// Parameters: $model, $index, $text.
MATCH (t:Token {model: $model, text: $text})
CALL db.index.vector.queryNodes($index, 100, t.embedding) YIELD node, score
WHERE node <> t
RETURN node.text AS token, node.id AS id, round(2 * score - 1, 4) AS cosine
ORDER BY cosine DESC
LIMIT 10
