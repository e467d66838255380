// The tokens of a model that `atlas untrained --verify-top` asked the model to repeat, highest score first, ties by id.
// Parameters: $model.
// Returns per token: id, text, category, score, cited (its in-degree; null before an analysis), repeat_probability.
MATCH (t:Token {model: $model})
WHERE t.repeat_probability IS NOT NULL
RETURN t.id AS id, t.text AS text, t.category AS category, t.untrained AS score, t.cited AS cited,
  t.repeat_probability AS repeat_probability
ORDER BY score DESC, id
