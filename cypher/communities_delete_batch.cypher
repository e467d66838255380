// Delete up to $limit of a model's communities from a stale analysis (ids from $from on, or all with $from 0) with their LINKED relationships; returns how many were deleted.
// Parameters: $model, $from, $limit.
MATCH (c:Community {model: $model})
WHERE c.id >= $from
WITH c LIMIT $limit
DETACH DELETE c
RETURN count(*) AS deleted
