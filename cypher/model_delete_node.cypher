// Delete a model's own node.
// Parameters: $name.
MATCH (m:Model {name: $name})
DELETE m
