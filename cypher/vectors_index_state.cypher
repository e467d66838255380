// The state of one index (ONLINE, POPULATING or FAILED) and how much of it is populated, or no row.
// Parameters: $name.
SHOW INDEXES YIELD name, type, state, populationPercent, options
WHERE name = $name
RETURN type, state, populationPercent AS percent, options
