// One model's properties, or no row.
// Parameters: $name.
MATCH (m:Model {name: $name})
RETURN m {.*} AS model
