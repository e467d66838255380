"""Every Cypher statement of token atlas, one per ``*.cypher`` file, with the Browser guide and stylesheet.

Installed as ``atlas.cypher``; read only through :mod:`atlas.graph.queries`.
"""
