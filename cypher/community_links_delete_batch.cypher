// Delete up to $limit LINKED relationships of a model's communities (before the links of a new analysis are written); returns how many were deleted.
// Parameters: $model, $limit.
MATCH (:Community {model: $model})-[l:LINKED]->()
WITH l LIMIT $limit
DELETE l
RETURN count(*) AS deleted
