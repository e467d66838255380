"""The local server's home folder: its private folders, files and logs, the launcher's locks, and the room on its disk."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from atlas.core.units import size_text
from atlas.errors import LauncherError

PRIVATE = ("conf", "data", "logs", "run")  # the home's folders the server writes, all owner-only
# Bytes free on the home's disk to start: a first start preallocates 256 MiB of transaction
# log for each of its two databases; later the next 256 MiB log and the store's growth need room.
# A database that fails with less than MIN_FREE left is put down to the full disk.
MIN_FREE_FIRST = 1 << 30


def make_home(home: Path) -> None:
    """Create ``home`` and the folders the server writes, each readable by its owner only."""
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder in PRIVATE:
            (home / folder).mkdir(exist_ok=True, mode=0o700)
    except OSError as exc:
        raise LauncherError(
            f"cannot create the Neo4j home {home}: {exc.strerror}; choose a writable folder (folder=..., --home or ATLAS_NEO4J_HOME)"
        ) from None


def make_private(home: Path) -> None:
    """Make the home and the folders the server writes readable by their owner only (homes made before were not)."""
    try:
        for folder in (home, *(home / name for name in PRIVATE)):
            folder.chmod(0o700)
    except OSError as exc:
        raise LauncherError(f"cannot make the Neo4j home {home} private: {exc.strerror} ({exc.filename})") from None


def has_database(home: Path) -> bool:
    """True once the server of ``home`` has started: its system database (and password) exist."""
    return (home / "data" / "databases" / "system").exists()


def check_free_disk(home: Path, need: int) -> None:
    """Refuse to start a server whose disk cannot hold its transaction logs: Neo4j would hang, then fail."""
    free = shutil.disk_usage(home).free
    if free < need:
        raise LauncherError(
            f"only {size_text(free)} free on the disk of {home}, and Neo4j needs at least {size_text(need)} there "
            "to start; free some space, or choose a home on another disk (folder=..., --home or ATLAS_NEO4J_HOME)"
        )


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, as a file only its owner can read."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(partial, path)


def private_log(path: Path):
    """``path`` opened for writing a log, readable by its owner only."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8")


def last_line(path: Path, needles: tuple[str, ...], after: str | None = None) -> str | None:
    """The last non-empty line of ``path`` containing one of ``needles`` (any line if none given),
    looking only below the last line containing ``after`` when that is given."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if after is not None:
        starts = [i for i, line in enumerate(lines) if after in line]
        lines = lines[starts[-1] :] if starts else lines
    for line in reversed(lines):
        if line.strip() and (not needles or any(needle in line for needle in needles)):
            return line.strip()
    return None


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so concurrent starts and stops of one home take turns."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
