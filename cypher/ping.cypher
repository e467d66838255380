// Whether the database answers a query at all (the launcher waits for this after a start).
// Parameters: none.
RETURN 1 AS ok
