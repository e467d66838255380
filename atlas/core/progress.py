"""How long work reports to its caller: the progress and message callbacks the library calls and the CLI shows.

Every callback is optional; one not given is :func:`ignore`.
"""

from __future__ import annotations

from collections.abc import Callable

StageProgress = Callable[[str, int, int], None]
"""Told ``(stage, items just done, stage total)`` as each stage of a long job advances."""

Note = Callable[[str], None]
"""Told one line for the user: what a long call found or did (``on_note``), or what it left out or did
otherwise than asked (``on_warning``)."""


def ignore(*_: object) -> None:
    """The callback a caller did not give: told anything, it does nothing.

    >>> ignore("stage", 1, 10)
    """
