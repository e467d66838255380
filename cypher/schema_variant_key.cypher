// Uniqueness of a variant group within its model: (model, key).
// Parameters: none.
CREATE CONSTRAINT variant_model_key IF NOT EXISTS
FOR (v:Variant) REQUIRE (v.model, v.key) IS UNIQUE
