// A model's communities, by id (0 = largest): size, label and where the label goes.
// Parameters: $model.
MATCH (c:Community {model: $model})
RETURN c.id AS id, c.size AS size, c.label AS label, c.x AS x, c.y AS y
ORDER BY c.id
