// Uniqueness of a model's name.
// Parameters: none.
CREATE CONSTRAINT model_name IF NOT EXISTS
FOR (m:Model) REQUIRE m.name IS UNIQUE
