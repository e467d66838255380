// Every model with its token, edge and variant counts (counts come from the graph, not from the Model node).
// Parameters: none. A model deleted while this runs is left out.
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
WITH m {.*} AS model, tokens, edges, variants
WHERE model.name IS NOT NULL  // a model deleted while it was being listed reads as no properties
RETURN model, tokens, edges, variants
ORDER BY model.name
