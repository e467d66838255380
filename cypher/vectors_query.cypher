// The vector index's nearest tokens of each of some tokens of one model, by the token's own stored embedding (the token itself included), best first.
// Parameters: $model, $index (the model's vector index name), $ids (token ids), $k (how many the index returns).
UNWIND $ids AS id
MATCH (t:Token {model: $model, id: id})
CALL db.index.vector.queryNodes($index, $k, t.embedding) YIELD node, score
RETURN id, collect([node.id, score]) AS found
