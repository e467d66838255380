// The tokens of one variant group, by id.
// Parameters: $model, $key.
MATCH (:Variant {model: $model, key: $key})<-[:VARIANT_OF]-(t:Token)
RETURN t.id AS id, t.text AS text, t.raw AS raw, t.special AS special
ORDER BY t.id
