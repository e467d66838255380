// Create the vector index of one model's token embeddings: cosine similarity, the model's dimension, on the model's vector label; unquantized, so the index ranks by the stored float32 vectors (int8 quantization, Neo4j's default, cost recall: bench/bench_vector_index.py).
// Parameters: $name (the index name), $dim (the model's dimension). Schema commands take no parameter for a label: atlas.queries.labelled writes the model's vector label (an identifier made by atlas.vectors.vector_names) in place of __LABEL__.
CREATE VECTOR INDEX $name IF NOT EXISTS
FOR (t:__LABEL__) ON t.embedding
OPTIONS {indexConfig: {`vector.dimensions`: $dim, `vector.similarity_function`: 'cosine', `vector.quantization.enabled`: false}}
