"""The safetensors header, read once for local files and hub files alike.

A safetensors file is an 8-byte little-endian length, a JSON header of that many bytes
naming each tensor's dtype, shape and byte range (``data_offsets``, counted from the end
of the header), then the raw tensors. A truncated or corrupt header is named in one line.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

from atlas.errors import SourceNotFound

MAX_HEADER = 100 * 2**20  # the safetensors format's own limit on the JSON header


def header_length(head: bytes, where: str, size: int | None = None) -> int:
    """The JSON header's length, from the file's first 8 bytes; ``size`` is the file's, when known.

    >>> header_length(struct.pack("<Q", 42), "model.safetensors", size=100)
    42
    >>> header_length(struct.pack("<Q", 420), "model.safetensors", size=100)
    Traceback (most recent call last):
    atlas.errors.SourceNotFound: model.safetensors is truncated or not a safetensors file (its header claims 420 bytes, the file has 100); download it again
    """
    if len(head) < 8:
        raise SourceNotFound(f"{where} is not a safetensors file ({len(head)} bytes); download it again")
    (length,) = struct.unpack("<Q", head[:8])
    if length > MAX_HEADER or (size is not None and length > size - 8):
        has = f", the file has {size:,}" if size is not None else ""
        raise SourceNotFound(
            f"{where} is truncated or not a safetensors file (its header claims {length:,} bytes{has}); download it again"
        )
    return length


def parse_header(raw: bytes, where: str) -> dict:
    """The JSON header's bytes as a dict of tensor name -> ``{"dtype", "shape", "data_offsets"}`` (and ``__metadata__``).

    >>> parse_header(b'{"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}', "x")["w"]["shape"]
    [2, 3]
    """
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SourceNotFound(f"{where} is not a safetensors file (its header is not JSON); download it again") from None
    if not isinstance(header, dict):
        raise SourceNotFound(f"{where} is not a safetensors file (its header is not a JSON object); download it again")
    return header


def read_header(path: Path) -> tuple[dict, int]:
    """A local safetensors file's JSON header and where its data starts; SourceNotFound naming what is wrong."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            length = header_length(f.read(8), str(path), size)
            raw = f.read(length)
    except OSError as exc:
        raise SourceNotFound(f"cannot read {path}: {exc.strerror}") from None
    return parse_header(raw, str(path)), 8 + length


def tensor_names(header: dict) -> list[str]:
    """The tensors a header names, in its order (its ``__metadata__`` left out).

    >>> tensor_names({"__metadata__": {}, "b": {}, "a": {}})
    ['b', 'a']
    """
    return [name for name in header if name != "__metadata__"]
