// The neighbourhood of one token: the token whose text is exactly $text (the seed), its $k nearest tokens, and every SIMILAR_TO edge among them.
// Parameters: $model (string), $text (string), $k (integer, default 10).
// Returns one row: nodes (maps: id, text, raw, special, variant, seed) and edges (maps: source, target, score, rank).
MATCH (s:Token {model: $model, text: $text})
OPTIONAL MATCH (s)-[r:SIMILAR_TO]->(n:Token)
WHERE r.rank <= $k
WITH collect(s) + collect(n) AS found
UNWIND found AS t
WITH DISTINCT t
WITH collect(t) AS shown
CALL (shown) {
  UNWIND shown AS a
  MATCH (a)-[r:SIMILAR_TO]->(b:Token)
  WHERE b IN shown
  RETURN collect({source: a.id, target: b.id, score: r.score, rank: r.rank}) AS edges
}
RETURN
  [t IN shown | t {.id, .text, .raw, .special, variant: [(t)-[:VARIANT_OF]->(v:Variant) | v.key][0], seed: t.text = $text}] AS nodes,
  edges
