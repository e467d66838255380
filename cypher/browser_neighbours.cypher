// A token and its stored nearest tokens, as a graph: the line `atlas load` prints for Neo4j Browser.
// Parameters: $model, $text.
MATCH (t:Token {model: $model, text: $text})-[r:SIMILAR_TO]->(n:Token)
RETURN t, r, n
