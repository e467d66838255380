// Every non-special token of a model, by id: the candidates the random-word atlas filters and draws from.
// Parameters: $model.
MATCH (t:Token {model: $model})
WHERE NOT t.special
RETURN t.id AS id, t.text AS text, t.raw AS raw
ORDER BY t.id
