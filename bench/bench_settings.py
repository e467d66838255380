"""Where the benchmarks find Neo4j: NEO4J_URI (default the local server) and its password as `atlas` finds it."""

from __future__ import annotations

import os
from pathlib import Path

from atlas import neo4j_local
from atlas.settings import DEFAULT_URI, Settings, default_home


def settings() -> Settings:
    """NEO4J_URI, NEO4J_USER, NEO4J_DATABASE, and NEO4J_PASSWORD or else the local server's kept password."""
    home = Path(os.environ.get("ATLAS_NEO4J_HOME") or default_home())
    uri = os.environ.get("NEO4J_URI") or DEFAULT_URI
    password = os.environ.get("NEO4J_PASSWORD") or neo4j_local.password_for(uri, home)
    local = home.expanduser().resolve() if neo4j_local.serves(home, uri) else None
    return Settings(
        uri, os.environ.get("NEO4J_USER", "neo4j"), password, os.environ.get("NEO4J_DATABASE", "neo4j"), local
    )
