// Create the SIMILAR_TO edges of a batch of source tokens that have none yet, found by element id (a fresh load; a retried transaction was rolled back first, so it creates nothing twice).
// Parameters: $rows (list of maps: source (element id), targets (element ids, best first), scores (floats), mutual (booleans: the target lists the source too)); rank is the position in targets, from 1.
UNWIND $rows AS row
MATCH (a:Token) WHERE elementId(a) = row.source
UNWIND range(0, size(row.targets) - 1) AS i
MATCH (b:Token) WHERE elementId(b) = row.targets[i]
CREATE (a)-[:SIMILAR_TO {score: row.scores[i], rank: i + 1, mutual: row.mutual[i]}]->(b)
