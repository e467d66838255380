"""The benchmarks' Neo4j: the server the ``atlas`` command would use, from the same environment variables.

The library reads no environment; these scripts are programs, so they read ``NEO4J_URI``,
``NEO4J_USER``, ``NEO4J_PASSWORD``, ``NEO4J_DATABASE`` and ``ATLAS_NEO4J_HOME`` as the command
does and hand them to :func:`atlas.connection_settings`.
"""

from __future__ import annotations

import os

from atlas import Atlas, Settings, connection_settings


def settings() -> Settings:
    """The connection settings the ``atlas`` command would use in this environment."""
    env = os.environ.get
    return connection_settings(
        env("NEO4J_URI"), env("NEO4J_USER"), env("NEO4J_PASSWORD"), env("NEO4J_DATABASE"), env("ATLAS_NEO4J_HOME")
    )


def atlas(**kwargs) -> Atlas:
    """An Atlas on that server."""
    return Atlas(settings=settings(), **kwargs)
