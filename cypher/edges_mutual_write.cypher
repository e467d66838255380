// Mark a batch of source tokens' SIMILAR_TO edges as mutual or not (for a model whose edges were written without the flag; idempotent).
// Parameters: $model, $rows (list of maps: id, mutual (the ids of the targets that list the source too)).
UNWIND $rows AS row
MATCH (:Token {model: $model, id: row.id})-[r:SIMILAR_TO]->(n:Token)
SET r.mutual = n.id IN row.mutual
