// Create or update a model's node and mark it as loading.
// Parameters: $name, $props (map: source, dim, vocab_size, matrix_rows, k, dtype, family, created_at, zero_ids: the token ids of zero-norm rows, embedding_tensor;
// for a layer atlas layer: the layer of the hidden states, method: how they were made; null for input embeddings).
MERGE (m:Model {name: $name})
SET m += $props, m.status = 'loading'
