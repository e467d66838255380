// Suggestions for a text that is not a token: tokens whose text, trimmed and lower-cased, starts with the same (up to $limit).
// Parameters: $model, $prefix (already trimmed and lower-cased), $limit.
MATCH (t:Token {model: $model})
WHERE toLower(trim(t.text)) STARTS WITH $prefix
RETURN t.text AS text
ORDER BY size(t.text), t.text
LIMIT $limit
