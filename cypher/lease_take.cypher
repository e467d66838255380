// Take the lease on a model name for one load or analysis: granted when nobody holds it, the caller already does, it has expired, or it is the named stale holder's. Returns a row only when granted.
// Parameters: $model, $owner (map: host, pid, started, token), $seconds (how long the lease lasts without renewal), $stale (the token of a holder known to be gone, or null).
MERGE (l:LoadLease {model: $model})
WITH l
WHERE l.token IS NULL OR l.token = $owner.token OR l.expires < timestamp() OR l.token = $stale
SET l += $owner, l.expires = timestamp() + $seconds * 1000
RETURN l.token AS token
