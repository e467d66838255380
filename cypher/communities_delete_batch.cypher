// Delete up to $limit of a model's communities from a stale analysis (ids from $first on, or all with $first 0) with their LINKED relationships; returns how many were deleted.
// Parameters: $model, $first, $limit.
MATCH (c:Community {model: $model})
WHERE c.id >= $first
WITH c LIMIT $limit
DETACH DELETE c
RETURN count(*) AS deleted
