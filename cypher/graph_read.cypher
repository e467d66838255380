// A stored model's tokens with ids in [$from, $to), each with its neighbours best first: the whole graph is read back in such slices (for the analysis and the map).
// Parameters: $model, $from, $to.
// Returns per token: id, text, special, key (its variant key or null), targets (neighbour ids by rank), scores, and what an analysis stored (cited, community, x, y; null before one).
MATCH (t:Token {model: $model})
WHERE $from <= t.id < $to
CALL (t) {
  OPTIONAL MATCH (t)-[r:SIMILAR_TO]->(n:Token)
  WITH r, n ORDER BY r.rank
  RETURN collect(n.id) AS targets, collect(r.score) AS scores
}
RETURN t.id AS id, t.text AS text, t.special AS special, [(t)-[:VARIANT_OF]->(v:Variant) | v.key][0] AS key,
  targets, scores, t.cited AS cited, t.community AS community, t.x AS x, t.y AS y
ORDER BY t.id
