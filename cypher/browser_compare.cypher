// The tokens of model $a whose nearest tokens changed most in model $b (lowest rank-biased overlap first): the line `atlas compare` prints for Neo4j Browser.
// Parameters: $a, $b.
MATCH (x:Token {model: $a})-[s:SAME_TOKEN]->(y:Token {model: $b})
WHERE NOT x.special
RETURN x.text AS token, y.text AS partner, s.matched_by AS matched_by, s.jaccard AS jaccard, s.rbo AS rbo
ORDER BY rbo, jaccard, token
LIMIT 25
