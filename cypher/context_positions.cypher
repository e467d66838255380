// The map positions of some tokens of one model (null before an analysis; ids not in the model give no row).
// Parameters: $model, $ids.
UNWIND $ids AS id
MATCH (t:Token {model: $model, id: id})
RETURN t.id AS id, t.x AS x, t.y AS y
