// The map positions of every $every-th token of one model (by id), to draw the map faintly behind a page.
// Parameters: $model, $every.
MATCH (t:Token {model: $model})
WHERE t.id % $every = 0 AND t.x IS NOT NULL
RETURN t.x AS x, t.y AS y
