// Every token of one model (id, raw piece, special flag), by id.
// Parameters: $model.
MATCH (t:Token {model: $model})
RETURN t.id AS id, t.raw AS raw, t.special AS special
ORDER BY t.id
