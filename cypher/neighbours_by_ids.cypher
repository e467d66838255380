// The stored neighbours of some tokens of one model, best first: the exact graph the vector index is measured against (bench/bench_vector_index.py).
// Parameters: $model, $ids (token ids).
UNWIND $ids AS id
MATCH (t:Token {model: $model, id: id})
CALL (t) {
  OPTIONAL MATCH (t)-[r:SIMILAR_TO]->(n:Token)
  WITH r, n ORDER BY r.rank
  RETURN collect(n.id) AS targets
}
RETURN id, targets
