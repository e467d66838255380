"""How long work reports its progress: one callback type for every stage of every command."""

from __future__ import annotations

from typing import Callable

StageProgress = Callable[[str, int, int], None]
"""``on_progress(stage, items just done, stage total)``; a total of 0 or 1 means the stage has no count."""
