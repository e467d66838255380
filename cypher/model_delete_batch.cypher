// Delete up to $limit nodes (tokens, variant groups, saved prompts, saved hidden states, communities, comparisons with other models) of one model with their relationships (SAME_TOKEN links too); returns how many were deleted.
// Parameters: $model, $limit.
CALL () {
  MATCH (c:Comparison) WHERE c.a = $model OR c.b = $model RETURN c AS n
  UNION ALL
  MATCH (t:Token {model: $model}) RETURN t AS n
  UNION ALL
  MATCH (v:Variant {model: $model}) RETURN v AS n
  UNION ALL
  MATCH (p:Prompt {model: $model}) RETURN p AS n
  UNION ALL
  MATCH (s:Context {model: $model}) RETURN s AS n
  UNION ALL
  MATCH (c:Community {model: $model}) RETURN c AS n
}
WITH n LIMIT $limit
DETACH DELETE n
RETURN count(*) AS deleted
