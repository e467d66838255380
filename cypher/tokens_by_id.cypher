// Tokens of one model by id (ids not in the model give no row).
// Parameters: $model, $ids.
UNWIND $ids AS id
MATCH (t:Token {model: $model, id: id})
RETURN t.id AS id, t.text AS text, t.raw AS raw, t.special AS special
