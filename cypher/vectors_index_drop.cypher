// Drop one model's vector index, if it exists.
// Parameters: $name (the index name).
DROP INDEX $name IF EXISTS
