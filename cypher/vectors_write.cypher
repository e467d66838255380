// Store a batch of one model's token embeddings: each token gets its unit row as the float32 vector property `embedding` and the model's vector label (idempotent: keyed by (model, id)).
// Parameters: $model, $label (the model's vector label, see atlas.vectors.vector_names), $rows (list of maps: id, embedding (list of floats)).
UNWIND $rows AS row
MATCH (t:Token {model: $model, id: row.id})
SET t:$($label)
WITH t, row
CALL db.create.setNodeVectorProperty(t, 'embedding', row.embedding)
RETURN count(t) AS written
