// The most-cited tokens of a model (hubs: listed among the k nearest of the most tokens), with their community's label.
// Parameters: $model, $limit, $skip_special (boolean: leave special tokens out).
MATCH (t:Token {model: $model})
WHERE t.cited IS NOT NULL AND NOT (t.special AND $skip_special)
WITH t ORDER BY t.cited DESC, t.id LIMIT $limit
OPTIONAL MATCH (c:Community {model: $model, id: t.community})
RETURN t.id AS id, t.text AS text, t.special AS special, t.cited AS cited, t.community AS community, c.label AS label
ORDER BY cited DESC, id
