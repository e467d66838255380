// A saved prompt and its tokens in order, as a graph: the line `atlas prompt --save` prints for Neo4j Browser.
// Parameters: $model, $text.
MATCH (p:Prompt {model: $model, text: $text})-[h:HAS_TOKEN]->(t:Token)
RETURN p, h, t ORDER BY h.position
