// Link a batch of matched token pairs of model $a and model $b with how alike their k nearest tokens are (idempotent: one SAME_TOKEN per pair, from A's token).
// Parameters: $a, $b, $k, $rows (list of maps: a (A's token id), b (B's token id), by ('id', 'text' or 'variant': how they were matched), jaccard, rbo).
UNWIND $rows AS row
MATCH (x:Token {model: $a, id: row.a})
MATCH (y:Token {model: $b, id: row.b})
MERGE (x)-[s:SAME_TOKEN]->(y)
SET s.matched_by = row.by, s.jaccard = row.jaccard, s.rbo = row.rbo, s.k = $k
