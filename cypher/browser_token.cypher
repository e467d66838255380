// A token and its stored nearest tokens, as a graph, by token id: the line the vocabulary map gives for Neo4j Browser.
// Parameters: $model, $id.
MATCH (t:Token {model: $model, id: $id})-[r:SIMILAR_TO]->(n:Token)
RETURN t, r, n
