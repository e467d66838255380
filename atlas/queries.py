"""Load Cypher statements by name from the ``cypher`` package (one statement per file); the only module that reads it."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

from atlas.cypher_literals import inline


@lru_cache(maxsize=None)
def query(name: str) -> str:
    """The text of ``cypher/<name>.cypher``; raises KeyError for an unknown name."""
    path = resources.files("cypher").joinpath(f"{name}.cypher")
    if not path.is_file():
        raise KeyError(f"no query named {name!r} in cypher/ (known: {', '.join(names())})")
    return path.read_text(encoding="utf-8")


def names() -> list[str]:
    """Names of all statements shipped in ``cypher/``, sorted."""
    return sorted(
        p.name[: -len(".cypher")]
        for p in resources.files("cypher").iterdir()
        if p.name.endswith(".cypher")
    )


def header(name: str) -> str:
    """The leading ``//`` comment lines of a statement, without the slashes."""
    lines = []
    for line in query(name).splitlines():
        if not line.startswith("//"):
            break
        lines.append(line[2:].strip())
    return "\n".join(lines)


def resource_text(filename: str) -> str:
    """A non-query file shipped in ``cypher/`` (the Browser stylesheet or guide)."""
    return resources.files("cypher").joinpath(filename).read_text(encoding="utf-8")


def browser_line(name: str, **params: Any) -> str:
    """The statement ``name`` on one line with its parameters written as literals, to paste into Neo4j Browser.

    >>> browser_line("browser_neighbours", model="m", text=" cat")
    "MATCH (t:Token {model: 'm', text: ' cat'})-[r:SIMILAR_TO]->(n:Token) RETURN t, r, n"
    """
    return inline(query(name), params, one_line=True)
