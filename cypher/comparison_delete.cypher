// Delete the summary node of comparing model $a with model $b (before the comparison is written again); returns how many were deleted.
// Parameters: $a, $b.
OPTIONAL MATCH (c:Comparison {a: $a, b: $b})
DETACH DELETE c
RETURN count(c) AS deleted
