// Uniqueness of a token within its model: (model, id). Also the index every lookup by id uses.
// Parameters: none.
CREATE CONSTRAINT token_model_id IF NOT EXISTS
FOR (t:Token) REQUIRE (t.model, t.id) IS UNIQUE
