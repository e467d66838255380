// Link a batch of tokens to their variant groups (idempotent).
// Parameters: $model, $rows (list of maps: id, key).
UNWIND $rows AS row
MATCH (t:Token {model: $model, id: row.id})
MERGE (v:Variant {model: $model, key: row.key})
MERGE (t)-[:VARIANT_OF]->(v)
