// Store the repeat check of a model's under-trained candidates: each checked token's repeat probability; a token
// of the model checked by an earlier run and not by this one loses its probability. Idempotent: plain SETs keyed
// by (model, id).
// Parameters: $model, $rows (list of maps: id, probability).
MATCH (old:Token {model: $model})
WHERE old.repeat_probability IS NOT NULL AND NOT old.id IN [row IN $rows | row.id]
SET old.repeat_probability = null
WITH count(*) AS cleared
UNWIND $rows AS row
MATCH (t:Token {model: $model, id: row.id})
SET t.repeat_probability = row.probability
