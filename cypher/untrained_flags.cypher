// The ids of a model's under-trained candidates (flagged by `atlas untrained`), for the map's highlight.
// Parameters: $model.
MATCH (t:Token {model: $model})
WHERE t.untrained_candidate
RETURN collect(t.id) AS ids
