// The highest token id of a model (null for none): where reading its tokens in id slices ends.
// Parameters: $model.
MATCH (t:Token {model: $model})
RETURN max(t.id) AS top
