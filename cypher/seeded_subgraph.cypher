// The subgraph around seed tokens: the seeds, the $k nearest tokens of each, and every SIMILAR_TO edge among all of them (any stored rank). Prompts, atlases and every named view (view_*.cypher, which find the seeds) share it.
// Parameters: $model (string), $ids (list of token ids: the seeds), $k (integer).
// Returns one row: nodes (maps: id, text, raw, special, variant, seed, and what the model's analysis stored, null before one: community, community_label, cited, out_degree, pagerank, core, clustering, x, y) and edges (maps: source, target, score, rank).
MATCH (s:Token {model: $model})
WHERE s.id IN $ids
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
  [t IN shown | t {
    .id, .text, .raw, .special,
    variant: [(t)-[:VARIANT_OF]->(v:Variant) | v.key][0],
    seed: t.id IN $ids,
    .community, .cited, .out_degree, .pagerank, .core, .clustering, .x, .y,
    community_label: COLLECT { MATCH (c:Community {model: $model, id: t.community}) RETURN c.label }[0]
  }] AS nodes,
  edges
