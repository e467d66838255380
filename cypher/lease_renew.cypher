// Extend a lease its holder still holds; returns how many leases were extended (0: the lease was lost).
// Parameters: $model, $token, $seconds.
OPTIONAL MATCH (l:LoadLease {model: $model, token: $token})
SET l.expires = timestamp() + $seconds * 1000
RETURN count(l) AS renewed
