"""Results that convert to plain data: the base of every result the library returns."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any


class Record:
    """A result that converts to plain data: ``to_dict()`` and ``to_json()``.

    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Pair(Record):
    ...     a: int
    ...     b: str
    >>> Pair(1, "ü").to_dict(), Pair(1, "ü").to_json(indent=None)
    ({'a': 1, 'b': 'ü'}, '{"a": 1, "b": "ü"}')
    """

    def to_dict(self) -> Any:
        """The result as plain data (a dataclass's fields, recursively)."""
        return asdict(self)  # type: ignore[call-overload]

    def to_json(self, indent: int | None = 2) -> str:
        """The result as JSON text (token text kept as it is: ``ensure_ascii=False``)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)
