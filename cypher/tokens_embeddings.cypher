// The stored unit embeddings (see `atlas vectors`) of some tokens of one model, by id.
// Parameters: $model, $ids (list of token ids).
UNWIND $ids AS id
MATCH (t:Token {model: $model, id: id})
RETURN t.id AS id, t.embedding AS embedding
