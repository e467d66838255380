// Replace the SIMILAR_TO edges of a batch of source tokens, found by element id (idempotent: a source's old edges are deleted before its new ones are created).
// Parameters: $rows (list of maps: source (element id), targets (element ids, best first), scores (floats), mutual (booleans: the target lists the source too)); rank is the position in targets, from 1.
UNWIND $rows AS row
MATCH (a:Token) WHERE elementId(a) = row.source
CALL (a) {
  MATCH (a)-[old:SIMILAR_TO]->()
  DELETE old
}
WITH a, row
UNWIND range(0, size(row.targets) - 1) AS i
MATCH (b:Token) WHERE elementId(b) = row.targets[i]
CREATE (a)-[:SIMILAR_TO {score: row.scores[i], rank: i + 1, mutual: row.mutual[i]}]->(b)
