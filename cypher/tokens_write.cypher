// Create or update a batch of tokens of one model (idempotent: keyed by (model, id)); returns each token's internal node id, which the edge writes find it by in the same load.
// Parameters: $model, $rows (list of maps: id, text, raw, special; count: a corpus word's count in its corpus, absent for other models; pca_x, pca_y: the token's place on the principal plane).
UNWIND $rows AS row
MERGE (t:Token {model: $model, id: row.id})
SET t.text = row.text, t.raw = row.raw, t.special = row.special, t.count = row.count,
  t.pca_x = row.pca_x, t.pca_y = row.pca_y
RETURN row.id AS id, id(t) AS node
