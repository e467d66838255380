// Create or update a batch of tokens of one model (idempotent: keyed by (model, id)); returns each token's element id for the edge writes.
// Parameters: $model, $rows (list of maps: id, text, raw, special).
UNWIND $rows AS row
MERGE (t:Token {model: $model, id: row.id})
SET t.text = row.text, t.raw = row.raw, t.special = row.special
RETURN row.id AS id, elementId(t) AS element_id
