"""Pure computation, no Neo4j and no files: exact top-k neighbours, variant keys, vector arithmetic,
the network analysis, recall, the subgraph and map shapes, token text for people, sizes and durations,
and the progress callback long work reports through.
"""
