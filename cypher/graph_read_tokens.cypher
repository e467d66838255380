// A stored model's tokens with ids in [$from, $to) as parallel lists, ordered by id: the analysis and the map read the whole vocabulary in such slices.
// Parameters: $model, $from, $to.
// Returns one row of lists: ids, texts, special, keys (variant key, '' for none), and what an analysis stored (cited, out_degree, community, core: -1 before one; x, y, pagerank, clustering: NaN before one), and each token's place on the principal plane (pca_x, pca_y: NaN for a model loaded without it).
MATCH (t:Token {model: $model})
WHERE $from <= t.id < $to
WITH t ORDER BY t.id
RETURN collect(t.id) AS ids, collect(t.text) AS texts, collect(t.special) AS special,
  collect(coalesce([(t)-[:VARIANT_OF]->(v:Variant) | v.key][0], '')) AS keys,
  collect(coalesce(t.cited, -1)) AS cited, collect(coalesce(t.out_degree, -1)) AS out_degree,
  collect(coalesce(t.community, -1)) AS community, collect(coalesce(t.core, -1)) AS core,
  collect(coalesce(t.x, 0.0 / 0.0)) AS x, collect(coalesce(t.y, 0.0 / 0.0)) AS y,
  collect(coalesce(t.pagerank, 0.0 / 0.0)) AS pagerank, collect(coalesce(t.clustering, 0.0 / 0.0)) AS clustering,
  collect(coalesce(t.pca_x, 0.0 / 0.0)) AS pca_x, collect(coalesce(t.pca_y, 0.0 / 0.0)) AS pca_y
