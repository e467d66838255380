"""Servers on this machine: the local Neo4j Community server, and the Browser guide server.
"""
