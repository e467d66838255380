// A saved text's hidden states, their tokens and their nearest tokens, as a graph: the line `atlas context --save` prints for Neo4j Browser.
// Parameters: $model, $text.
MATCH (c:Context {model: $model, text: $text})-[r]->(t:Token)
RETURN c, r, t ORDER BY c.layer, c.position
