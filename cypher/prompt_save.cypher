// Save a prompt as (:Prompt {model, text})-[:HAS_TOKEN {position}]->(:Token) (idempotent: keyed by the Prompt constraint and the position; links of an earlier save that differ are removed).
// Parameters: $model, $text, $rows (list of maps: position, id); returns how many tokens the prompt links.
MERGE (p:Prompt {model: $model, text: $text})
WITH p
CALL (p) {
  MATCH (p)-[old:HAS_TOKEN]->(t:Token)
  WHERE NOT {position: old.position, id: t.id} IN $rows
  DELETE old
}
WITH p
UNWIND $rows AS row
MATCH (t:Token {model: $model, id: row.id})
MERGE (p)-[h:HAS_TOKEN {position: row.position}]->(t)
RETURN count(h) AS saved
