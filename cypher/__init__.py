"""Every Cypher statement of token atlas, one per ``.cypher`` file, plus the Browser stylesheet and guide."""
