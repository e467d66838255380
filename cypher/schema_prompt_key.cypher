// Uniqueness of a saved prompt within its model: (model, text).
// Parameters: none.
CREATE CONSTRAINT prompt_model_text IF NOT EXISTS
FOR (p:Prompt) REQUIRE (p.model, p.text) IS UNIQUE
