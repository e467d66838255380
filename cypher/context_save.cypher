// Save hidden states of a text's tokens: (:Context {key, model, text, position, layer, token, own_cosine})-[:STATE_OF]->(:Token) and -[:NEAR {rank, score}]->(:Token) (idempotent: keyed by the Context constraint; NEAR links of an earlier save that differ are removed).
// Parameters: $model, $rows (list of maps: key, text, position, layer, id, token, own_cosine, near: list of maps {id, rank, score}); returns how many NEAR links the rows hold.
UNWIND $rows AS row
MATCH (t:Token {model: $model, id: row.id})
MERGE (c:Context {key: row.key})
SET c.model = $model, c.text = row.text, c.position = row.position, c.layer = row.layer, c.token = row.token,
    c.own_cosine = row.own_cosine
MERGE (c)-[:STATE_OF]->(t)
WITH c, row
CALL (c, row) {
  MATCH (c)-[old:NEAR]->(n:Token)
  WHERE NOT {rank: old.rank, id: n.id} IN [x IN row.near | {rank: x.rank, id: x.id}]
  DELETE old
}
WITH c, row
UNWIND row.near AS near
MATCH (n:Token {model: $model, id: near.id})
MERGE (c)-[r:NEAR {rank: near.rank}]->(n)
SET r.score = near.score
RETURN count(r) AS near
