"""Sizes and durations, read from people and written for them."""

from __future__ import annotations

import re

from atlas.errors import InvalidArgument

_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def size_bytes(text: str | None) -> int | None:
    """Bytes of a size such as ``2GB``, ``512MiB``, ``3g`` or Neo4j's ``2.00GiB`` (powers of 1024); None when unreadable.

    >>> size_bytes("2.00GiB"), size_bytes("512m"), size_bytes("3g"), size_bytes(""), size_bytes(None)
    (2147483648, 536870912, 3221225472, None, None)
    """
    match = _SIZE.fullmatch(text or "")
    if not match:
        return None
    return int(float(match.group(1)) * 1024 ** " kmgt".index(match.group(2).lower() or " "))


def parse_bytes(text: str) -> int:
    """A memory size given by a user: ``2GB``, ``512MB`` -> bytes; InvalidArgument when it is not one.

    >>> parse_bytes("2GB")
    2147483648
    """
    size = size_bytes(text)
    if size is None:
        raise InvalidArgument(f"cannot read {text!r} as a memory size; write it like 2GB or 512MB")
    return size


def size_text(n: float) -> str:
    """A byte count for people.

    >>> size_text(398 * 2**20), size_text(1 << 30), size_text(int(2.5 * 2**30))
    ('398 MiB', '1 GiB', '2.5 GiB')
    """
    return f"{n / 2**20:,.0f} MiB" if n < 1 << 30 else f"{n / 2**30:,.1f} GiB".replace(".0 ", " ")


def duration(seconds: float) -> str:
    """``4.2 s``, ``1 min 28 s``, ``2 h 05 min``.

    >>> duration(4.21), duration(88), duration(7500)
    ('4.2 s', '1 min 28 s', '2 h 05 min')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"
