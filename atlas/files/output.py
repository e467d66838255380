"""Where an export goes: a stream, a regular file replaced atomically, or a special file written into.

:func:`write_output` writes bytes or text (as UTF-8) to ``-`` (stdout) or a path, and
:func:`write_files` writes several paths together. A path is written by what it is:

- nothing yet: a new file, written in full beside it and moved into place, with the mode
  a new file gets under the umask;
- a regular file: replaced atomically (a temporary file in the same folder, then
  ``os.replace``), keeping its permissions and, where the process may set them, its owner
  and group; a failed write leaves the old file as it was;
- a symbolic link: its target is written by these rules, beside the target, and the link is kept;
- a FIFO, a character or block device, or a name of an open descriptor (``/dev/stdout``,
  ``/dev/fd/N``, ``/proc/self/fd/N``, or a link to one): written into, with no temporary
  file and no rename, so ``-o /dev/null`` stays the device and ``-o fifo`` feeds its reader;
  a regular file reached through a descriptor's name is appended to, so what it holds
  already (a shell's ``>>``) is kept;
- a folder: refused.

A regular file with other hard links is replaced like any other: the name given gets the
new file and the other names keep the old content (the link is broken). Writing in place
would keep the link, but a failed or interrupted write would then leave a partial file
under every name, including names the user did not give.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import stat
import sys
from collections.abc import Mapping
from typing import BinaryIO, TextIO, cast

from atlas.errors import ExportError

Data = bytes | str
STDOUT = "-"  # the output name that means standard output

_DESCRIPTOR = re.compile(r"/(?:dev|proc/(?:self|thread-self|\d+))/fd/\d+")
_ADVICE = {
    errno.ENOSPC: "free some space or write elsewhere",
    errno.EDQUOT: "free some space or write elsewhere",
    errno.EPIPE: "its reader stopped reading before the end",
}


def write_output(out: str, data: Data, stdout: TextIO | BinaryIO | None = None) -> None:
    """Write ``data`` to ``out``: ``-`` is ``stdout`` (default ``sys.stdout``), anything else a path."""
    if out == STDOUT:
        write_stream(stdout if stdout is not None else sys.stdout, data)
    else:
        write_file(out, data)


def write_stream(stream: TextIO | BinaryIO, data: Data) -> None:
    """Write ``data`` to an open stream and flush it; bytes go to a text stream's ``buffer``."""
    if isinstance(data, str):
        cast(TextIO, stream).write(data)
    else:
        stream.flush()
        cast(BinaryIO, getattr(stream, "buffer", stream)).write(data)
    stream.flush()


def write_file(path: str, data: Data) -> None:
    """Write ``data`` to ``path`` by the rules of this module; ExportError says what went wrong."""
    write_files({path: data})


def write_files(files: Mapping[str, Data]) -> None:
    """Write each path's data by the rules of this module.

    Every regular file is written in full to its temporary file before any special file is
    written into and before any is moved into place, so a failure leaves every regular file
    as it was.
    """
    plans = [(path, _bytes(path, data), *_where(path)) for path, data in files.items()]
    temps: list[tuple[str, str, str]] = []  # (temporary file, file it replaces, path given)
    try:
        for path, data, into, real, old in plans:
            if not into:
                temps.append((_write_temp(path, real, data, old), real, path))
        for path, data, into, _real, old in plans:
            if into:
                _write_into(path, data, append=old is not None and stat.S_ISREG(old.st_mode))
        for temp, real, path in temps:
            try:
                os.replace(temp, real)
            except OSError as e:
                raise ExportError(_cannot(path, e)) from e
    finally:
        for temp, _, _ in temps:
            if os.path.lexists(temp):
                os.unlink(temp)


def _bytes(path: str, data: Data) -> bytes:
    if isinstance(data, bytes):
        return data
    try:
        return data.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ExportError(f"cannot write {path}: the text is not valid Unicode ({e.reason})") from e


def _where(path: str) -> tuple[bool, str, os.stat_result | None]:
    """(write into it?, the file to write or replace, its status or None when there is none yet)."""
    if not path:
        raise ExportError(f"no output file given; name a file, or write {STDOUT} for stdout")
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    except OSError as e:
        raise ExportError(_cannot(path, e)) from e
    if _names_a_descriptor(path):
        return True, path, old
    if old is not None and stat.S_ISDIR(old.st_mode):
        raise ExportError(f"cannot write {path}: it is a folder; give a file name")
    if old is not None and not stat.S_ISREG(old.st_mode):
        return True, path, old
    return False, os.path.realpath(path) if os.path.islink(path) else path, old


def check_writable(path: str) -> None:
    """ExportError, before any work, when ``path`` could not be written: its folder is missing or not writable, or it
    is a folder (``-`` and special files are taken as they are)."""
    if path == STDOUT:
        return
    writes_into, target, old = _where(path)
    if writes_into:
        return
    folder = os.path.dirname(os.path.abspath(target)) or "."
    if not os.path.isdir(folder):
        raise ExportError(f"cannot write {path}: its folder {folder} does not exist; create it or write elsewhere")
    if not os.access(folder, os.W_OK | os.X_OK) or (old is not None and not os.access(target, os.W_OK)):
        raise ExportError(_cannot(path, PermissionError(errno.EACCES, os.strerror(errno.EACCES))))


def is_special(path: str) -> bool:
    """Whether ``path`` is something written into rather than replaced: a FIFO, a device, a descriptor's name."""
    if _names_a_descriptor(path):
        return True
    try:
        return not stat.S_ISREG(os.stat(path).st_mode) and not stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def _names_a_descriptor(path: str) -> bool:
    """Whether ``path`` is ``/dev/fd/N`` or ``/proc/.../fd/N``, or a chain of links reaching one (as /dev/stdout is)."""
    for _ in range(40):  # the kernel's own limit on links followed
        path = os.path.normpath(os.path.abspath(path))
        if _DESCRIPTOR.fullmatch(path):
            return True
        if not os.path.islink(path):
            return False
        path = os.path.join(os.path.dirname(path), os.readlink(path))
    return False


def _write_temp(path: str, real: str, data: bytes, old: os.stat_result | None) -> str:
    """Write ``data`` to a fresh temporary file beside ``real`` with ``old``'s mode and owner; returns its name."""
    folder = os.path.dirname(real) or "."
    temp = os.path.join(folder, f".{os.path.basename(real)}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except FileNotFoundError as e:
        raise ExportError(
            f"cannot write {path}: folder {folder} does not exist; create it or choose another path"
        ) from e
    except OSError as e:
        raise ExportError(_cannot(path, e)) from e
    try:
        if old is not None:
            _keep_owner_and_mode(fd, old)
        _write_all(fd, data)
        os.fsync(fd)
    except OSError as e:
        os.close(fd)
        os.unlink(temp)
        raise ExportError(_cannot(path, e)) from e
    os.close(fd)
    return temp


def _keep_owner_and_mode(fd: int, old: os.stat_result) -> None:
    mine = os.fstat(fd)
    if (mine.st_uid, mine.st_gid) != (old.st_uid, old.st_gid):
        with contextlib.suppress(PermissionError):
            os.fchown(
                fd, old.st_uid, old.st_gid
            )  # only root gives a file away; the export then belongs to whoever wrote it
    os.fchmod(fd, stat.S_IMODE(old.st_mode))  # after fchown, which clears set-id bits


def _write_into(path: str, data: bytes, append: bool) -> None:
    """Write ``data`` into an existing FIFO, device or descriptor; a FIFO's open waits for its reader."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | (os.O_APPEND if append else 0))
    except OSError as e:
        raise ExportError(_cannot(path, e)) from e
    try:
        _write_all(fd, data)
    except OSError as e:
        raise ExportError(_cannot(path, e)) from e
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def advice(error: OSError, otherwise: str = "write elsewhere") -> str:
    """What to do about a failed write, by its errno."""
    return _ADVICE.get(error.errno or 0, otherwise)


def _cannot(path: str, error: OSError) -> str:
    if error.errno == errno.EISDIR:
        return f"cannot write {path}: it is a folder; give a file name"
    return f"cannot write {path}: {error.strerror or error}; {advice(error, 'choose a writable path')}"
