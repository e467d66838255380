// The Cypher-script export: create or update a batch of a subgraph's tokens with what the export shows of them (idempotent: keyed by (model, id)).
// Parameters: $model, $rows (list of maps: id, text, raw, special, variant, seed, members, community, cited, out_degree, pagerank, core, clustering, x, y).
UNWIND $rows AS row
MERGE (t:Token {model: $model, id: row.id})
SET t += row
