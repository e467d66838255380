"""Load Cypher statements by name from the ``cypher`` package (one statement per file); the only module that reads it."""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from atlas.core.cypher_text import inline


@cache
def query(name: str) -> str:
    """The text of ``cypher/<name>.cypher``; raises KeyError for an unknown name."""
    path = resources.files("atlas.cypher").joinpath(f"{name}.cypher")
    if not path.is_file():
        raise KeyError(f"no query named {name!r} in cypher/ (known: {', '.join(names())})")
    return path.read_text(encoding="utf-8")


LABEL_PLACEHOLDER = "__LABEL__"
_IDENTIFIER = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


def labelled(name: str, label: str) -> str:
    """The statement ``name`` with ``label`` written in place of ``__LABEL__``.

    Only for schema commands, which take no parameter for a label; the label must be
    a plain identifier (letters, digits, underscores), so it cannot change the statement.

    >>> labelled("vectors_index_create", "Vectors_m_1234").splitlines()[3]
    'FOR (t:Vectors_m_1234) ON t.embedding'
    """
    text = query(name)
    if LABEL_PLACEHOLDER not in text:
        raise KeyError(f"cypher/{name}.cypher has no {LABEL_PLACEHOLDER} to fill in")
    if not _IDENTIFIER.fullmatch(label):
        raise ValueError(f"{label!r} is not a plain identifier; a label written into a statement must be one")
    return text.replace(LABEL_PLACEHOLDER, label)


def names() -> list[str]:
    """Names of all statements shipped in ``cypher/``, sorted."""
    return sorted(
        p.name[: -len(".cypher")] for p in resources.files("atlas.cypher").iterdir() if p.name.endswith(".cypher")
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
    return resources.files("atlas.cypher").joinpath(filename).read_text(encoding="utf-8")


def browser_line(name: str, **params: Any) -> str:
    """The statement ``name`` on one line with its parameters written as literals, to paste into Neo4j Browser.

    >>> browser_line("browser_neighbours", model="m", text=" cat")
    "MATCH (t:Token {model: 'm', text: ' cat'})-[r:SIMILAR_TO]->(n:Token) RETURN t, r, n"
    """
    return inline(query(name), params, one_line=True)
