// Uniqueness of a saved hidden state: its key (model, text, position and layer).
// Parameters: none.
CREATE CONSTRAINT context_key IF NOT EXISTS
FOR (c:Context) REQUIRE c.key IS UNIQUE
