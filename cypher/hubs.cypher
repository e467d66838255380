// The hubs of a model: its tokens ranked by a measure the analysis stored ($by: 'cited', the in-degree; 'pagerank'; 'core', the k-core number; 'clustering'), highest first, ties by id, with their community's label.
// Parameters: $model, $limit, $skip_special (boolean: leave special tokens out), $by.
// Returns per token: id, text, special, cited, community, label, and its out_degree, pagerank, core and clustering (null before an analysis that computed them).
MATCH (t:Token {model: $model})
WHERE t.cited IS NOT NULL AND NOT (t.special AND $skip_special)
WITH t, CASE $by WHEN 'pagerank' THEN t.pagerank WHEN 'core' THEN t.core WHEN 'clustering' THEN t.clustering ELSE t.cited END AS measure
WHERE measure IS NOT NULL
WITH t, measure ORDER BY measure DESC, t.id LIMIT $limit
OPTIONAL MATCH (c:Community {model: $model, id: t.community})
RETURN t.id AS id, t.text AS text, t.special AS special, t.cited AS cited, t.community AS community, c.label AS label,
  t.out_degree AS out_degree, t.pagerank AS pagerank, t.core AS core, t.clustering AS clustering
ORDER BY measure DESC, id
