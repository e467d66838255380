// Tokens of one model whose text is exactly $text.
// Parameters: $model, $text.
MATCH (t:Token {model: $model, text: $text})
RETURN t.id AS id, t.text AS text, t.raw AS raw, t.special AS special
ORDER BY t.id
