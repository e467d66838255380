// Mark a model's load as finished and record its edge count.
// Parameters: $name, $edges.
MATCH (m:Model {name: $name})
SET m.status = 'complete', m.edges = $edges
