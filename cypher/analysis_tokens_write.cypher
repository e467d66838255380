// Write what the analysis found for a batch of tokens: in-degree, community, map position and graph measures (idempotent: plain SETs keyed by (model, id)).
// Parameters: $model, $rows (list of maps: id, cited, community, x, y, out_degree, pagerank, core, clustering; community, x and y may be null, the four measures absent for an analysis without them).
UNWIND $rows AS row
MATCH (t:Token {model: $model, id: row.id})
SET t.cited = row.cited, t.community = row.community, t.x = row.x, t.y = row.y,
  t.out_degree = row.out_degree, t.pagerank = row.pagerank, t.core = row.core, t.clustering = row.clustering
