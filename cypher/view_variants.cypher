// A variant group and its surroundings: every token of the group with key $key (the seeds, e.g. list, List, ##list for key 'list'), shown with the $k nearest tokens of each and every SIMILAR_TO edge among them.
// Parameters: $model (string), $key (string), $k (integer, default 5).
// Returns one row: ids (the seed token ids); seeded_subgraph then finds the rest.
MATCH (:Variant {model: $model, key: $key})<-[:VARIANT_OF]-(s:Token)
RETURN collect(s.id) AS ids
