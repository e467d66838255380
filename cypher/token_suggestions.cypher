// Close tokens for a text that is no token, in one statement: for each level (the text, then ever shorter prefixes of it), the tokens of its variant group, then the tokens whose text, trimmed and lower-cased, starts with its prefix; only the first level that has any is kept. Variant tokens come first (by id), then prefix matches (shortest text first); up to 2 * $limit rows, as a text may come twice.
// Parameters: $model, $levels (list of {level: 0, 1, ..., key: variant key or null, prefix: trimmed lower-cased text or ''}, longest first), $limit.
CALL () {
  UNWIND $levels AS level
  MATCH (:Variant {model: $model, key: level.key})<-[:VARIANT_OF]-(t:Token)
  RETURN level.level AS level, 0 AS kind, t.id AS id, t.text AS text
  UNION
  WITH last($levels).prefix AS shortest
  MATCH (t:Token {model: $model})
  WHERE shortest <> '' AND toLower(trim(t.text)) STARTS WITH shortest
  WITH t, [l IN $levels WHERE l.prefix <> '' AND toLower(trim(t.text)) STARTS WITH l.prefix | l.level] AS matched
  RETURN matched[0] AS level, 1 AS kind, t.id AS id, t.text AS text
}
WITH collect({level: level, kind: kind, id: id, text: text}) AS found
WITH found, reduce(best = null, f IN found | CASE WHEN best IS NULL OR f.level < best THEN f.level ELSE best END) AS best
UNWIND found AS f
WITH f WHERE f.level = best
RETURN f.text AS text
ORDER BY f.kind, CASE WHEN f.kind = 0 THEN f.id ELSE size(f.text) END, f.text
LIMIT 2 * $limit
