// Write each token's round-trip category and under-training score (idempotent: plain SETs keyed by (model, id)).
// Parameters: $model, $rows (list of maps: id, category, untrained (the score), candidate, reference (booleans)).
UNWIND $rows AS row
MATCH (t:Token {model: $model, id: row.id})
SET t.category = row.category, t.untrained = row.untrained, t.untrained_candidate = row.candidate,
  t.untrained_reference = row.reference
