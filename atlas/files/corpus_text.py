"""Reading a text corpus: one ``.txt`` file or a folder of them, decoded by one stated rule.

The decoding rule: each file is read as UTF-8; a file that is not valid UTF-8 is read as
Latin-1 instead (every byte is a character there, so nothing is lost or replaced), and the
load says which files were. A file with NUL bytes is not text; a line longer than
:data:`MAX_LINE` characters is not prose. Both are refused, as are a missing path, a folder
without ``.txt`` files and a corpus without words.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from atlas.errors import InvalidArgument, SourceNotFound

MAX_LINE = 1_000_000  # characters in one line


@dataclass(frozen=True)
class CorpusText:
    """The text of a corpus: its files (relative names, in reading order), their text joined, and its SHA-256."""

    path: str  # the file or folder as given, made absolute
    files: list[str]
    text: str  # every file's text, in order, separated by a newline
    sha256: str  # of the bytes read, file after file
    latin1: list[str] = field(default_factory=list)  # files read as Latin-1 because they are not UTF-8


def corpus_files(path: str | Path) -> tuple[Path, list[Path]]:
    """The corpus's root and its ``.txt`` files: ``path`` itself, or every ``*.txt`` under the folder, by name."""
    root = Path(path).expanduser()
    if not root.exists():
        raise SourceNotFound(f"corpus {str(path)!r} does not exist: give a .txt file or a folder of .txt files")
    if root.is_dir():
        found = sorted(p for p in root.rglob("*.txt") if p.is_file())
        if not found:
            raise InvalidArgument(f"folder {str(path)!r} holds no .txt files: give a folder of .txt files or one file")
        return root.resolve(), found
    return root.resolve(), [root]


def read_corpus(path: str | Path) -> CorpusText:
    """Read the corpus at ``path`` by the rule above; InvalidArgument, naming the file, for what is not text."""
    root, found = corpus_files(path)
    digest = hashlib.sha256()
    parts, names, latin1 = [], [], []
    for file in found:
        name = file.name if file == root else str(file.relative_to(root))
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise SourceNotFound(f"cannot read corpus file {str(file)!r}: {exc.strerror or exc}") from None
        if b"\x00" in data:
            raise InvalidArgument(f"corpus file {name!r} is binary (it has NUL bytes), not text: give .txt files")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
            latin1.append(name)
        text = text.removeprefix("\ufeff")
        longest = max((len(line) for line in text.splitlines()), default=0)
        if longest > MAX_LINE:
            raise InvalidArgument(
                f"corpus file {name!r} has a line of {longest:,} characters (at most {MAX_LINE:,}): "
                "it is not prose; give text with line breaks"
            )
        digest.update(data)
        parts.append(text)
        names.append(name)
    return CorpusText(str(root), names, "\n".join(parts), digest.hexdigest(), latin1)
