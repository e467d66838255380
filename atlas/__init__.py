"""token atlas: exact nearest-neighbour graphs of token embeddings, stored in Neo4j.

This package is the core library and, on top of it, the command line (``atlas.cli``).
The library never imports ``loaders``; ``loaders`` (the load pipeline) imports the
library; only the CLI uses both. Inside the library, modules import downwards:

- text and settings: ``errors``, ``settings``, ``display`` (token text on terminals and
  pages), ``cypher_literals``, ``queries`` (the only reader of ``cypher/``);
- pure computation: ``neighbours`` (exact top-k), ``variants`` (variant keys), ``rows``
  (write parameters), ``prompt`` (tokens of a text), ``subgraph`` (the shape every
  view gives and every exporter takes), ``arithmetic`` (expressions of tokens and their
  exact nearest rows), ``recall`` (approximate neighbours against exact ones);
- files: ``model_files`` (tokenizer and input-embedding rows), ``neo4j_local`` (the local
  server), ``export`` (html, graphml, json, csv, cypher);
- Neo4j: ``store`` (connection and plumbing), ``writes`` (tokens, groups, edges,
  prompts), ``lookup`` (finding tokens), ``nearest`` (neighbour lists), ``seeded``
  (prompt and atlas subgraphs), ``named_views`` (``cypher/view_*.cypher``), ``near``
  (``atlas near``: an expression's nearest tokens), ``vectors`` (embeddings as vector
  properties and their index), ``browser`` (the Browser guide server).
"""

__version__ = "0.1.0"
