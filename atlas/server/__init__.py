"""Servers on this machine: the local Neo4j Community server (started and stopped by :mod:`atlas.server.local`,
with the modules beside it), and the Browser guide server.
"""
