// The exact $k nearest tokens of one token in Cypher: vector.similarity.cosine against every vectored token of the model (a scan; bench/bench_vector_index.py times it).
// Parameters: $model, $label (the model's vector label), $id, $k.
MATCH (t:Token {model: $model, id: $id})
MATCH (n:$($label))
WHERE n <> t
WITH n, vector.similarity.cosine(n.embedding, t.embedding) AS score
ORDER BY score DESC, n.id
LIMIT $k
RETURN n.id AS id, score
