"""Embedding sources and the load pipeline: source -> exact neighbours -> Neo4j."""

from .source import EmbeddingTable
from .huggingface import DEFAULT_MODEL_NAME, default_source, load_embedding_table, load_tokenizer

__all__ = ["EmbeddingTable", "DEFAULT_MODEL_NAME", "default_source", "load_embedding_table", "load_tokenizer"]
