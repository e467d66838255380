"""The load pipeline: an embedding source -> exact neighbours -> Neo4j (and the analysis at its end).

This package builds on the core library in ``atlas`` (neighbours, model files, the
store and its writes, the analysis); nothing in the core library imports it. Only the
CLI (``atlas.cli``), which sits on top of both, uses it.
"""

from .huggingface import default_name, load_embedding_table
from .source import EmbeddingTable

__all__ = ["EmbeddingTable", "default_name", "load_embedding_table"]
