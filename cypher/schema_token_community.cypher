// Index on (model, community) for listing a community's members.
// Parameters: none.
CREATE INDEX token_model_community IF NOT EXISTS
FOR (t:Token) ON (t.model, t.community)
