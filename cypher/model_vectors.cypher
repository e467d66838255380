// Record the state of a model's vectors ('writing' while they are stored, then 'complete') with their label, index name and counts.
// Parameters: $name, $status, $props (map: vector_label, vector_index, and when complete vectors_stored, vectors_at).
MATCH (m:Model {name: $name})
SET m += $props, m.vectors = $status
