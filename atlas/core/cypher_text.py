"""Cypher as text for people and scripts: literals, statements with their parameters written in, splitting scripts.

Queries the tool runs always take their values as ``$parameters``. Text meant to be
run elsewhere (a line to paste into Neo4j Browser, the export's Cypher script) is
made from the same statements in ``cypher/`` with :func:`inline`, which writes each
parameter as a literal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

_ESCAPES = {"\\": "\\\\", "'": "\\'", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
# escaped: backslash, quotes, C0, DEL, C1, separators, the bidi controls a terminal would obey, lone surrogates
_SPECIAL = re.compile(
    "[\\\\'\"\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def cypher_string(text: str) -> str:
    r"""A single-quoted Cypher string literal for ``text``.

    Backslash and both quotes are escaped, newline/tab/... use their short escapes and
    other control and bidi characters ``\uXXXX``, so a literal never spans lines and a
    line holding one (a Browser query printed on a terminal) is never reordered.

    >>> print(cypher_string("it's a \\ \n"))
    'it\'s a \\ \n'
    """
    return "'" + _SPECIAL.sub(_escape, text) + "'"


def _escape(match: re.Match) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


class Literal(str):
    """Text that is already a Cypher literal: :func:`cypher_value` writes it as it is."""


def cypher_value(value: Any) -> str:
    """A Cypher literal for a string, number, boolean, None, list or map (or a :class:`Literal`, as it is).

    >>> cypher_value({"id": 3, "score": 1e-05, "tags": ["a", None, True]})
    "{id: 3, score: 1e-05, tags: ['a', null, true]}"
    """
    if isinstance(value, Literal):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"no Cypher literal for the float {value}")
        return repr(value).replace("e+", "e")  # the shortest text that reads back the same; no '+' in exponents
    if isinstance(value, str):
        return cypher_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(cypher_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)}: {cypher_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Cypher literal for {type(value).__name__}")


def _key(name: str) -> str:
    return name if _NAME.fullmatch(name) else "`" + name.replace("`", "``") + "`"


def inline(statement: str, params: Mapping[str, Any], one_line: bool = False) -> str:
    """``statement`` with each ``$name`` in ``params`` written as a literal; its ``//`` comments dropped.

    Parameters inside string literals, backtick names and comments are left alone,
    and parameters not in ``params`` stay as they are. ``one_line`` joins the
    statement into one line (for pasting into Neo4j Browser).

    >>> inline("// who\\nMATCH (t:Token {model: $model, text: '$x'})\\nRETURN t", {"model": "it's"}, one_line=True)
    "MATCH (t:Token {model: 'it\\\\'s', text: '$x'}) RETURN t"
    """
    out: list[str] = []
    i, n = 0, len(statement)
    while i < n:
        c = statement[i]
        if c in "'\"`":
            end = _literal_end(statement, i)
            out.append(statement[i:end])
            i = end
        elif statement.startswith("//", i):
            end = statement.find("\n", i)
            i = n if end < 0 else end
        elif c == "$":
            match = _NAME.match(statement, i + 1)
            if match and match.group() in params:
                out.append(cypher_value(params[match.group()]))
                i = match.end()
            else:
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    text = "".join(out)
    if one_line:
        return " ".join(line.strip() for line in text.splitlines() if line.strip())
    return "\n".join(line.rstrip() for line in text.splitlines() if line.strip())


def _literal_end(text: str, start: int) -> int:
    """The index just past the string literal or backtick name opening at ``start``."""
    quote, i, n = text[start], start + 1, len(text)
    while i < n and text[i] != quote:
        i += 2 if text[i] == "\\" and quote != "`" else 1
    return min(i + 1, n)


def split_statements(script: str) -> list[str]:
    """Split a Cypher script on the ``;`` that end statements, for running them one by one.

    Semicolons inside string literals, backtick names and comments do not split.
    Returns the statements without their ``;``, stripped; pieces holding only
    comments or whitespace are dropped.

    >>> split_statements("RETURN ';' AS a;\\n// done\\nRETURN 2;\\n")
    ["RETURN ';' AS a", '// done\\nRETURN 2']
    """
    statements: list[str] = []
    start, i, has_code = 0, 0, False
    n = len(script)
    while i < n:
        c = script[i]
        if c in "'\"`":
            has_code = True
            i = _literal_end(script, i)
        elif script.startswith("//", i):
            end = script.find("\n", i)
            i = n if end < 0 else end + 1
        elif script.startswith("/*", i):
            end = script.find("*/", i + 2)
            i = n if end < 0 else end + 2
        elif c == ";":
            if has_code:
                statements.append(script[start:i].strip())
            start, i, has_code = i + 1, i + 1, False
        else:
            has_code = has_code or not c.isspace()
            i += 1
    if has_code:
        statements.append(script[start:].strip())
    return statements
