// Create or replace the summary of comparing model $a with model $b, linked to both Model nodes by COMPARES {side: 'a' or 'b'}.
// Parameters: $a, $b, $props (map: k, p, tokens_a, tokens_b, matched, matched_by_id, matched_by_text, matched_by_variant, unmatched_a, unmatched_b, mean_jaccard, mean_rbo, jaccard_deciles, rbo_deciles, held_together, compared_at, ...).
MATCH (ma:Model {name: $a})
MATCH (mb:Model {name: $b})
MERGE (c:Comparison {a: $a, b: $b})
SET c = $props, c.a = $a, c.b = $b
MERGE (c)-[:COMPARES {side: 'a'}]->(ma)
MERGE (c)-[:COMPARES {side: 'b'}]->(mb)
