// Delete up to $limit variant groups of one model with their VARIANT_OF links; returns how many were deleted.
// Parameters: $model, $limit.
MATCH (v:Variant {model: $model})
WITH v LIMIT $limit
DETACH DELETE v
RETURN count(*) AS deleted
