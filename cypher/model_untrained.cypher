// Record how a model's under-training scores were made: the reference, the threshold and the counts.
// Parameters: $name, $props (map: untrained_reference, untrained_reference_size, untrained_threshold, untrained_candidates, untrained_at, and one tokens_<category> count per category).
MATCH (m:Model {name: $name})
SET m += $props
