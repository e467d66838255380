// Tokens of one model whose text is exactly one of $texts, by id.
// Parameters: $model, $texts (list of strings).
UNWIND $texts AS text
MATCH (t:Token {model: $model, text: text})
RETURN t.id AS id, t.text AS text, t.raw AS raw
ORDER BY t.id
