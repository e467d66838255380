"""A hub model's files, fetching only the bytes needed: its small config and tokenizer files whole, and of
its weights only the input-embedding tensor, by HTTP range requests.

A safetensors file is an 8-byte header length, a JSON header naming each tensor's byte
range, then the raw tensors; so the header is read with two small range requests and the
one tensor with a third. What was read is kept in a folder of our own cache
(``~/.cache/token-atlas/hub/models--org--name/<revision>/``) beside the config and tokenizer
files, as a safetensors file of the same name that holds that one tensor, which every
reader of model folders reads as it would the whole file. A sharded checkpoint's index
(``model.safetensors.index.json``) is read first, so only the shard holding the tensor is
touched.

Addresses are the hub's ``resolve`` URLs (:func:`huggingface_hub.hf_hub_url`, which honours
``HF_ENDPOINT``). A fetch is resumable: the bytes arrive in a ``.part`` file that a later
call continues with a range from where it ends (a ``.part`` that cannot be the start of the
tensor, by its header or its length, is started again), and no more bytes are written than
were asked for. A fetch that stalls (less than ``STALL_BYTES`` in ``STALL_SECONDS``) is
stopped with what arrived kept for the next call. The SHA-256 of the tensor's bytes, and of
each ``CHUNK`` of them, is recorded beside the file (``<file>.fetched.json``) and checked
before the cache is used (:func:`damaged`); a file that fails is fetched again from its
first block that does not match. Where
a server answers a range request with the whole file, the whole file is fetched instead
(checked against the hub's SHA-256 of it when the hub gives one) and the caller is told.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from atlas.core.progress import Note, ignore
from atlas.errors import SourceNotFound
from atlas.files.safetensors_header import header_length, parse_header, read_header, tensor_names

SMALL_FILES = (  # fetched whole when the repository has them
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "vocab.json",
    "merges.txt",
    "tokenizer.model",
    "added_tokens.json",
    "model.safetensors.index.json",
)
SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"
COMPLETE = ".files-complete"  # marks a folder whose small files are all fetched
CHUNK = 1 << 20  # bytes per read of a response
TIMEOUT = 60  # seconds to wait for a server
STALL_SECONDS = 60.0  # a fetch receiving less than STALL_BYTES in this many seconds is stopped
STALL_BYTES = 64 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")

Progress = Callable[[int, int], None]  # (bytes so far, bytes in all)


@dataclass(frozen=True)
class Fetched:
    """What :func:`fetch_tensor` read: the file it wrote and how many bytes came over the network."""

    path: Path
    tensor: str
    transferred: int  # bytes received in this call (0 when the cache had it)
    ranged: bool  # False when the server sent the whole file
    sha256: str  # of the tensor's bytes


def cache_folder(repo: str, revision: str, root: Path | None = None) -> Path:
    """Where a hub model's fetched files go: ``root/models--org--name/revision`` (root: ``~/.cache/token-atlas/hub``)."""
    base = root if root is not None else Path.home() / ".cache" / "token-atlas" / "hub"
    return base / ("models--" + repo.replace("/", "--")) / revision.replace("/", "--")


def fetch_small_files(repo: str, revision: str = "main", root: Path | None = None) -> Path:
    """Fetch the model's config, tokenizer and index files whole (those it has) into its cache folder; returns the folder."""
    folder = cache_folder(repo, revision, root)
    if (folder / COMPLETE).is_file():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    session = _session()
    found = []
    for name in SMALL_FILES:
        response = session.get(_url(repo, name, revision), timeout=TIMEOUT)
        if response.status_code == 404:
            continue
        _check(response, repo, name)
        (folder / name).write_bytes(response.content)
        found.append(name)
    if "config.json" not in found:
        raise SourceNotFound(f"model {repo!r} has no config.json on the hub; check the id")
    (folder / COMPLETE).write_text("\n".join(found) + "\n")
    return folder


def remote_header(repo: str, filename: str, revision: str = "main") -> tuple[dict, int] | None:
    """A remote safetensors file's JSON header and where its data starts, read by two range requests;
    None when the server will not send ranges."""
    session = _session()
    url = _url(repo, filename, revision)
    head = _range(session, url, 0, 8, repo, filename)
    if head is None:
        return None
    length = header_length(head, f"{repo}/{filename}")
    text = _range(session, url, 8, 8 + length, repo, filename)
    if text is None:
        return None
    return parse_header(text, f"{repo}/{filename}"), 8 + length


def fetch_tensor(
    repo: str,
    filename: str,
    tensor: str,
    folder: Path,
    revision: str = "main",
    on_progress: Progress | None = None,
    on_warning: Note | None = None,
    header: tuple[dict, int] | None = None,
) -> Fetched:
    """Fetch the one tensor ``tensor`` of the remote safetensors file ``filename`` into ``folder/filename``.

    The file written is a safetensors file holding that tensor alone. A finished fetch is
    reused once its recorded SHA-256 checks; an interrupted one is continued. ``header`` is
    the remote file's (:func:`remote_header`) when the caller has read it already.
    """
    target = folder / filename
    record = folder / (filename + ".fetched.json")
    if target.is_file():
        kept = _record(record)
        if kept.get("tensor") == tensor and _tensor_sha256(target, tensor) == kept.get("sha256"):
            return Fetched(target, tensor, 0, bool(kept.get("ranged")), kept["sha256"])
        _salvage(target, kept, folder / (filename + ".part"))
    tell = on_progress or ignore
    found = header or remote_header(repo, filename, revision)
    if found is None:
        if on_warning is not None:
            on_warning(f"the server of {repo} does not send byte ranges: fetching the whole of {filename}")
        return fetch_whole(repo, filename, tensor, folder, revision, tell)
    remote, start = found
    info = remote.get(tensor)
    if not isinstance(info, dict):
        raise SourceNotFound(f"{repo}/{filename} holds no tensor {tensor!r}")
    begin, end = (int(v) for v in info["data_offsets"])
    own = json.dumps(
        {tensor: {"dtype": info["dtype"], "shape": info["shape"], "data_offsets": [0, end - begin]}}
    ).encode()
    prefix = struct.pack("<Q", len(own)) + own
    part = folder / (filename + ".part")
    total = end - begin
    have = part.stat().st_size - len(prefix) if part.is_file() and part.stat().st_size >= len(prefix) else -1
    if have < 0 or have > total or _first_bytes(part, len(prefix)) != prefix:
        part.write_bytes(prefix)  # none, another tensor's, or longer than the tensor: start again
        have = 0
    transferred = 0 if header else start  # the header's two requests, when made here
    session = _session()
    url = _url(repo, filename, revision)
    if have < total:
        response = session.get(
            url, headers={"Range": f"bytes={start + begin + have}-{start + end - 1}"}, stream=True, timeout=TIMEOUT
        )
        _check(response, repo, filename)
        if response.status_code != 206:
            response.close()
            raise SourceNotFound(f"the server of {repo} stopped sending byte ranges of {filename}; run the load again")
        first = _range_start(response.headers.get("Content-Range", ""))
        if first is not None and first != start + begin + have:
            response.close()
            raise SourceNotFound(
                f"the server of {repo} sent bytes of {filename} from {first:,} when asked from {start + begin + have:,}; "
                "try again later"
            )
        with open(part, "ab") as out:
            for chunk in _body(response, repo, filename, limit=total - have):
                out.write(chunk)
                have += len(chunk)
                transferred += len(chunk)
                tell(have, total)
    if have != total:
        raise SourceNotFound(
            f"{repo}/{filename}: got {have:,} of the tensor's {total:,} bytes; run the load again to continue"
        )
    os.replace(part, target)
    digest, blocks = _tensor_digests(target, tensor, blocks=True)
    record.write_text(
        json.dumps(
            {
                "tensor": tensor,
                "ranged": True,
                "sha256": digest,
                "blocks": blocks,
                "offset": start + begin,
                "length": total,
            }
        )
    )
    return Fetched(target, tensor, transferred, True, digest or "")


def fetch_whole(
    repo: str,
    filename: str,
    tensor: str | None,
    folder: Path,
    revision: str = "main",
    on_progress: Progress | None = None,
) -> Fetched:
    """The whole remote file, checked against the hub's SHA-256 of it where the hub gives one (for a server that
    sends no ranges). ``tensor`` names the tensor whose SHA-256 is recorded (the file's first when None)."""
    tell = on_progress or ignore
    session = _session()
    response = session.get(_url(repo, filename, revision), stream=True, timeout=TIMEOUT)
    _check(response, repo, filename)
    total = int(response.headers.get("Content-Length") or 0)
    expected = (
        (response.headers.get("X-Linked-Etag") or response.headers.get("ETag") or "")
        .strip('"')
        .removeprefix("W/")
        .strip('"')
    )
    part, target = folder / (filename + ".part"), folder / filename
    whole = hashlib.sha256()
    done = 0
    with open(part, "wb") as out:
        for chunk in _body(response, repo, filename, limit=total or None):
            out.write(chunk)
            whole.update(chunk)
            done += len(chunk)
            tell(done, total)
    if _SHA256.match(expected) and whole.hexdigest() != expected:
        part.unlink()
        raise SourceNotFound(f"{repo}/{filename} does not match the hub's SHA-256 of it; run the load again")
    os.replace(part, target)
    digest = _tensor_sha256(target, tensor)
    record = folder / (filename + ".fetched.json")
    record.write_text(
        json.dumps(
            {
                "tensor": tensor,
                "ranged": False,
                "sha256": digest,
                "file_sha256": whole.hexdigest(),
                "size": target.stat().st_size,
            }
        )
    )
    return Fetched(target, tensor or "", done, False, digest or "")


def damaged(folder: Path) -> list[str]:
    """The safetensors files of a cache folder that may not be used as they are: changed or truncated since they
    were fetched (their tensor's SHA-256 is not the one recorded), or without a record of what was fetched."""
    bad = []
    for path in sorted(folder.glob("*.safetensors")):
        kept = _record(folder / (path.name + ".fetched.json"))
        resized = "size" in kept and path.stat().st_size != kept["size"]
        if resized or not kept.get("sha256") or _tensor_sha256(path, kept.get("tensor")) != kept["sha256"]:
            bad.append(path.name)
    return bad


def _record(path: Path) -> dict:
    try:
        kept = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def _salvage(target: Path, kept: dict, part: Path) -> None:
    """Keep, as the ``.part`` of a new fetch, the header and the leading blocks of a damaged ``target`` that still
    match their recorded SHA-256s; the rest is fetched again."""
    blocks = kept.get("blocks") if kept.get("ranged") else None
    sound = 0
    try:
        _, start = read_header(target)
        with open(target, "rb") as f:
            if isinstance(blocks, list):
                f.seek(start)
                for expected in blocks:
                    block = f.read(CHUNK)
                    if hashlib.sha256(block).hexdigest() != expected:
                        break
                    sound += len(block)
        keep = start + sound if isinstance(blocks, list) else 0
    except (OSError, SourceNotFound):
        keep = 0
    if keep:
        os.replace(target, part)
        with open(part, "r+b") as f:
            f.truncate(keep)
    else:
        target.unlink()


def _range_start(content_range: str) -> int | None:
    found = re.match(r"\s*bytes\s+(\d+)-", content_range)
    return int(found.group(1)) if found else None


def _body(response, repo: str, filename: str, limit: int | None = None):
    """A response's bytes as they arrive, never more than ``limit``; stopped, with a line saying so, when less than
    ``STALL_BYTES`` arrive in ``STALL_SECONDS``."""
    left = limit
    window_start, window_bytes = time.monotonic(), 0
    try:
        while left is None or left > 0:
            chunk = response.raw.read1(CHUNK if left is None else min(CHUNK, left), decode_content=True)
            if not chunk:
                return
            if left is not None:
                left -= len(chunk)
            window_bytes += len(chunk)
            yield chunk
            now = time.monotonic()
            if now - window_start >= STALL_SECONDS:
                if window_bytes < STALL_BYTES:
                    raise SourceNotFound(
                        f"the server of {repo} sent {window_bytes:,} bytes of {filename} in the last "
                        f"{now - window_start:.0f} s, too slow to finish; stopped (what arrived is kept): "
                        "run the load again later"
                    )
                window_start, window_bytes = now, 0
    finally:
        response.close()


def _first_bytes(path: Path, count: int) -> bytes:
    with open(path, "rb") as f:
        return f.read(count)


def _tensor_digests(path: Path, tensor: str | None = None, blocks: bool = False) -> tuple[str | None, list[str]]:
    """SHA-256 of one tensor's bytes in a local safetensors file (its only tensor when none is named) and, with
    ``blocks``, of each ``CHUNK`` of them; (None, []) when the file cannot be read so."""
    found: list[str] = []
    try:
        header, start = read_header(path)
        begin, end = header[tensor or tensor_names(header)[0]]["data_offsets"]
        with open(path, "rb") as f:
            f.seek(start + begin)
            digest, left = hashlib.sha256(), end - begin
            while left > 0:
                block = f.read(min(CHUNK, left))
                if not block:
                    return None, []
                digest.update(block)
                if blocks:
                    found.append(hashlib.sha256(block).hexdigest())
                left -= len(block)
        return digest.hexdigest(), found
    except (OSError, SourceNotFound, KeyError, IndexError, TypeError, ValueError):
        return None, []


def _tensor_sha256(path: Path, tensor: str | None = None) -> str | None:
    """SHA-256 of one tensor's bytes in a local safetensors file (its only tensor when none is named); None when unreadable."""
    return _tensor_digests(path, tensor)[0]


def _url(repo: str, filename: str, revision: str) -> str:
    from huggingface_hub import hf_hub_url

    return hf_hub_url(repo, filename, revision=revision)


def _session():
    import requests

    session = requests.Session()
    try:
        from huggingface_hub.utils import build_hf_headers

        session.headers.update(build_hf_headers())
    except Exception:  # no token, or a hub client without it: anonymous requests
        pass
    return session


def _range(session, url: str, start: int, stop: int, repo: str, filename: str) -> bytes | None:
    """Bytes ``start:stop`` of the remote file; None when the server answers with the whole file."""
    response = session.get(url, headers={"Range": f"bytes={start}-{stop - 1}"}, stream=True, timeout=TIMEOUT)
    _check(response, repo, filename)
    if response.status_code != 206:
        response.close()
        return None
    first = _range_start(response.headers.get("Content-Range", ""))
    if first is not None and first != start:
        response.close()
        raise SourceNotFound(f"the server of {repo} sent bytes of {filename} from {first:,} when asked from {start:,}")
    data = b"".join(_body(response, repo, filename, limit=stop - start))
    if len(data) != stop - start:
        raise SourceNotFound(f"{repo}/{filename} is shorter than its header says; check the model's files")
    return data


def _check(response, repo: str, filename: str) -> None:
    if response.status_code == 404:
        raise SourceNotFound(f"model {repo!r} has no {filename} on the hub; check the id")
    if response.status_code >= 400:
        raise SourceNotFound(f"the hub answered {response.status_code} for {repo}/{filename}; try again later")
