// Write what the analysis found for a batch of tokens: in-degree, community and map position (idempotent: plain SETs keyed by (model, id)).
// Parameters: $model, $rows (list of maps: id, cited, community, x, y; community, x and y may be null).
UNWIND $rows AS row
MATCH (t:Token {model: $model, id: row.id})
SET t.cited = row.cited, t.community = row.community, t.x = row.x, t.y = row.y
