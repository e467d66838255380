// A variant group and its surroundings: every token of the group with key $key (the seeds, e.g. list, List, ##list for key 'list'), the $k nearest tokens of each, and every SIMILAR_TO edge among them.
// Parameters: $model (string), $key (string), $k (integer, default 5).
// Returns one row: nodes (maps: id, text, raw, special, variant, seed) and edges (maps: source, target, score, rank).
MATCH (:Variant {model: $model, key: $key})<-[:VARIANT_OF]-(s:Token)
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
  [t IN shown | t {.id, .text, .raw, .special, variant: [(t)-[:VARIANT_OF]->(v:Variant) | v.key][0], seed: EXISTS { (t)-[:VARIANT_OF]->(:Variant {model: $model, key: $key}) }}] AS nodes,
  edges
