// Mark a model's load as finished (after its graph was verified) and record its edge count, the neighbours a token has, its zero-norm rows and that the edges carry the mutual flag.
// Parameters: $name, $edges, $per_token, $zero_rows.
MATCH (m:Model {name: $name})
SET m.status = 'complete', m.edges = $edges, m.per_token = $per_token, m.zero_rows = $zero_rows, m.mutual_edges = true
