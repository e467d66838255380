// Record that a model's SIMILAR_TO edges carry the mutual flag.
// Parameters: $name.
MATCH (m:Model {name: $name})
SET m.mutual_edges = true
