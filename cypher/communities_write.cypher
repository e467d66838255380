// Create or update a batch of a model's communities (idempotent: keyed by (model, id)).
// Parameters: $model, $rows (list of maps: id, size, label, x, y).
UNWIND $rows AS row
MERGE (c:Community {model: $model, id: row.id})
SET c.size = row.size, c.label = row.label, c.x = row.x, c.y = row.y
