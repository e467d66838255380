// The Cypher-script export: create or update a batch of a subgraph's SIMILAR_TO edges (idempotent: MERGE on the pair).
// Parameters: $model, $rows (list of maps: source, target, score, rank).
UNWIND $rows AS row
MATCH (a:Token {model: $model, id: row.source})
MATCH (b:Token {model: $model, id: row.target})
MERGE (a)-[r:SIMILAR_TO]->(b)
SET r.score = row.score, r.rank = row.rank
