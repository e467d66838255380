// The exact $k nearest vectored tokens of one model to a given vector: a scan with vector.similarity.cosine, best first, as cosines.
// Parameters: $label (the model's vector label), $vector (a list of floats), $k.
MATCH (n:$($label))
WITH n, vector.similarity.cosine(n.embedding, $vector) AS similarity
ORDER BY similarity DESC, n.id
LIMIT $k
RETURN n.id AS id, n.text AS text, 2 * similarity - 1 AS score
