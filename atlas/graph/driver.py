"""Importing the Neo4j driver without the data-frame libraries it would load for nothing.

The driver imports pandas and pyarrow at its own import, when they are installed, for
``Result.to_df()`` and Arrow conversions that token atlas never calls. pyarrow alone adds
about a tenth of a second to every command that talks to Neo4j (``atlas neighbours`` starts
in well under a second). Both stay importable afterwards: ``atlas map --format parquet``
imports pyarrow itself.
"""

from __future__ import annotations

import sys
from types import ModuleType

UNUSED = ("pandas", "pyarrow")  # the driver's optional imports that token atlas does not use


def neo4j_without_dataframes() -> ModuleType:
    """The ``neo4j`` module, imported with pandas and pyarrow hidden from it if they are not loaded yet."""
    if "neo4j" in sys.modules:
        return sys.modules["neo4j"]
    hidden = [name for name in UNUSED if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` raise ImportError
    try:
        import neo4j
    finally:
        for name in hidden:
            if sys.modules.get(name, ...) is None:
                del sys.modules[name]
    return neo4j
