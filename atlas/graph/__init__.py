"""Neo4j: the connection, the statements of ``cypher/``, batched writes, leases, verification, vectors,
and a stored model's graph read back as arrays.
"""
