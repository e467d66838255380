// Give a lease back (only its holder can).
// Parameters: $model, $token.
MATCH (l:LoadLease {model: $model, token: $token})
DELETE l
