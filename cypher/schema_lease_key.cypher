// Uniqueness of a model name's load lease, so that two loads taking it at once queue on the constraint.
// Parameters: none.
CREATE CONSTRAINT load_lease_model IF NOT EXISTS
FOR (l:LoadLease) REQUIRE l.model IS UNIQUE
