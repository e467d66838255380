// Record a model's analysis: its status ('running' while it is written, then 'complete') and its settings and figures.
// Parameters: $name, $status, $props (map: analysis_resolution, analysis_seed, analysis_epochs, communities, modularity, cited_skewness, mutual_share, analysed_at; empty while running).
MATCH (m:Model {name: $name})
SET m += $props, m.analysis = $status
