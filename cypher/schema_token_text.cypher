// Index on (model, text) for looking tokens up by their text.
// Parameters: none.
CREATE INDEX token_model_text IF NOT EXISTS
FOR (t:Token) ON (t.model, t.text)
