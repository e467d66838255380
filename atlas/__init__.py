"""token atlas: exact nearest-neighbour graphs of token embeddings, stored in Neo4j."""

__version__ = "0.1.0"
