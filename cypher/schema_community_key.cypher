// Uniqueness of a community within its model: (model, id).
// Parameters: none.
CREATE CONSTRAINT community_model_id IF NOT EXISTS
FOR (c:Community) REQUIRE (c.model, c.id) IS UNIQUE
