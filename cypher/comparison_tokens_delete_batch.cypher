// Delete up to $limit SAME_TOKEN relationships from model $a's tokens to model $b's (before a comparison is written again); returns how many were deleted.
// Parameters: $a, $b, $limit.
MATCH (:Token {model: $a})-[s:SAME_TOKEN]->(y:Token)
WHERE y.model = $b
WITH s LIMIT $limit
DELETE s
RETURN count(*) AS deleted
