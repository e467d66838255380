// The SIMILAR_TO edges of a stored model's tokens with ids in [$from, $to) as parallel lists, in no order: the analysis and the map read the whole graph in such slices.
// Parameters: $model, $from, $to.
// Returns one row of lists, one entry per edge: sources (token ids), ranks (1 = nearest), targets (token ids), scores.
MATCH (t:Token {model: $model})-[r:SIMILAR_TO]->(n:Token)
WHERE $from <= t.id < $to
RETURN collect(t.id) AS sources, collect(r.rank) AS ranks, collect(n.id) AS targets, collect(r.score) AS scores
