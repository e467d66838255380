"""How long work reports its progress: the callback type the library's stages call and the CLI draws."""

from __future__ import annotations

from collections.abc import Callable

StageProgress = Callable[[str, int, int], None]
"""Told ``(stage, items just done, stage total)`` as each stage of a long job advances."""
