// Uniqueness of a comparison of two models: (a, b), the models' names in the order they were compared.
// Parameters: none.
CREATE CONSTRAINT comparison_pair IF NOT EXISTS
FOR (c:Comparison) REQUIRE (c.a, c.b) IS UNIQUE
