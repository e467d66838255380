// Check a model's graph: how many tokens, edges and tokens without edges it has, and how many tokens have edges that break the rules (not exactly $per_token edges to distinct other tokens ranked 1..$per_token), with up to 5 of their ids.
// Also counts the tokens without edges that are not among $zero_ids (the zero-norm rows' token ids the load recorded; null when unknown), with up to 5 of their ids.
// Parameters: $model, $per_token (the number of neighbours a token with any has), $zero_ids (list of token ids, or null).
MATCH (t:Token {model: $model})
CALL (t) {
  OPTIONAL MATCH (t)-[r:SIMILAR_TO]->(n:Token)
  RETURN count(r) AS edges, count(DISTINCT n) AS targets, count(DISTINCT r.rank) AS ranks,
    min(r.rank) AS low, max(r.rank) AS high, count(CASE WHEN n = t OR n.model <> $model THEN 1 END) AS strays
}
WITH t, edges, edges > 0 AND (edges <> $per_token OR targets <> edges OR ranks <> edges OR low <> 1 OR high <> edges OR strays > 0) AS wrong
RETURN count(t) AS tokens, sum(edges) AS edges, count(CASE WHEN edges = 0 THEN 1 END) AS without,
  count(CASE WHEN wrong THEN 1 END) AS wrong, collect(CASE WHEN wrong THEN t.id END)[..5] AS examples,
  count(CASE WHEN edges = 0 AND NOT t.id IN $zero_ids THEN 1 END) AS unexpected,
  collect(CASE WHEN edges = 0 AND NOT t.id IN $zero_ids THEN t.id END)[..5] AS unexpected_examples
