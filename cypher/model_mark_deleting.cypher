// Mark a model as being deleted: commands refuse it and say how to finish; a rerun of `atlas delete` finishes it.
// Parameters: $name.
MATCH (m:Model {name: $name})
SET m.status = 'deleting'
