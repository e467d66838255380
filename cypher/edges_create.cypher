// Create the SIMILAR_TO edges of a batch of source tokens that have none yet, found by internal node id (a fresh load; a retried transaction was rolled back first, so it creates nothing twice). Parallel lists cost the server less than a map per row.
// Parameters: $src (node ids of the sources), $tgt (per source: node ids of its targets, best first), $sc (per source: scores), $mu (per source: booleans, the target lists the source too); rank is the position in the source's targets, from 1.
UNWIND range(0, size($src) - 1) AS r
MATCH (a) WHERE id(a) = $src[r]
WITH a, $tgt[r] AS ts, $sc[r] AS ss, $mu[r] AS ms
UNWIND range(0, size(ts) - 1) AS i
MATCH (b) WHERE id(b) = ts[i]
CREATE (a)-[:SIMILAR_TO {score: ss[i], rank: i + 1, mutual: ms[i]}]->(b)
