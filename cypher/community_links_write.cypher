// Link a batch of community pairs by the SIMILAR_TO edges between them (idempotent: one LINKED per pair, from the lower id).
// Parameters: $model, $rows (list of maps: a, b (community ids, a < b), edges (count, both directions), weight (sum of their cosines)).
UNWIND $rows AS row
MATCH (a:Community {model: $model, id: row.a})
MATCH (b:Community {model: $model, id: row.b})
MERGE (a)-[l:LINKED]->(b)
SET l.edges = row.edges, l.weight = row.weight
