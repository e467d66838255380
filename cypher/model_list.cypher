// Every model with its token, edge and variant counts (counts come from the graph, not from the Model node).
// Parameters: none.
MATCH (m:Model)
CALL (m) {
  OPTIONAL MATCH (t:Token {model: m.name})
  RETURN count(t) AS tokens
}
CALL (m) {
  OPTIONAL MATCH (:Token {model: m.name})-[r:SIMILAR_TO]->()
  RETURN count(r) AS edges
}
CALL (m) {
  OPTIONAL MATCH (v:Variant {model: m.name})
  RETURN count(v) AS variants
}
RETURN m {.*} AS model, tokens, edges, variants
ORDER BY m.name
