// A model's under-trained candidates (tokens flagged by `atlas untrained`), highest score first, ties by id.
// Parameters: $model, $limit.
// Returns per token: id, text, category, score, cited (its in-degree; null before an analysis), repeat_probability
// (the probability the model gave it when asked to repeat it; null when it was not checked).
MATCH (t:Token {model: $model})
WHERE t.untrained_candidate
RETURN t.id AS id, t.text AS text, t.category AS category, t.untrained AS score, t.cited AS cited,
  t.repeat_probability AS repeat_probability
ORDER BY score DESC, id
LIMIT $limit
