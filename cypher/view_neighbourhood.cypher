// The neighbourhood of one token: the token whose text is exactly $text is the seed, shown with its $k nearest tokens and every SIMILAR_TO edge among them.
// Parameters: $model (string), $text (string), $k (integer, default 10).
// Returns one row: ids (the seed token ids); seeded_subgraph then finds the rest.
MATCH (s:Token {model: $model, text: $text})
RETURN collect(s.id) AS ids
