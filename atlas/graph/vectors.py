"""Token embeddings in Neo4j: each token's unit row as the vector property ``embedding``, with a vector index per model.

So Browser users can run nearest-neighbour and arithmetic queries in Cypher
(``db.index.vector.queryNodes``, ``vector.similarity.cosine``). The rows are written as
float32 lists (``db.create.setNodeVectorProperty``: half the store of a list of
doubles), in batched, idempotent transactions keyed by ``(model, id)``; rows of zero
norm have no direction and get no vector.

How models share ``Token.embedding``: every model's vectored tokens also carry a label
of the model's own (:func:`vector_names`, e.g. ``Vectors_all_MiniLM_L6_v2_<hash>``), and
the model's vector index is on that label. Neo4j allows one index per label and
property, with one dimension: an index on ``Token.embedding`` itself could serve only
one dimension (MiniLM's 384 and Qwen's 1536 could not both be indexed), and filtering
its answers by model afterwards would make every model's answers depend on the other
models (the k nearest may all belong to another model, so fewer than k would be left).
A property per model would give each its own index too, but every query would have to
name a different property. With a label per model, every model is indexed on its own
at its own dimension, the property is ``embedding`` everywhere, and the index's k
answers are all the model's. The Model node records the label and the index name
(``vector_label``, ``vector_index``) so queries read them from there.

The vector index is approximate (HNSW, see ``bench/bench_vector_index.py`` for its
recall against the exact graph); ``atlas near`` stays the exact answer.
"""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from atlas.core.progress import StageProgress, ignore
from atlas.core.units import size_bytes, size_text
from atlas.errors import AtlasError, InvalidArgument, NoRoom
from atlas.files.hidden_states import refuse_layer_atlas
from atlas.files.model_files import embedding_rows
from atlas.graph.concurrent import write_concurrently
from atlas.graph.lease import Lease
from atlas.graph.store import Store
from atlas.graph.write_params import batched
from atlas.settings import LOOPBACK

FLOATS_PER_BATCH = 2**20  # vector components per write transaction: 2,730 MiniLM rows, 682 of a 1536-wide model
WRITERS = 2  # concurrent write transactions on disjoint tokens (about 1.3x one writer here)
PAGE_CACHE = "server.memory.pagecache.size"
DATA_FOLDER = "server.directories.data"
INDEX_POLL = 2.0  # seconds between looks at a populating index
INDEX_TIMEOUT = 6 * 3600  # seconds to wait for an index to come online


def vector_names(model: str) -> tuple[str, str]:
    """The label and the index name of a model's vectors: readable, plain identifiers, distinct for distinct names.

    >>> vector_names("all-MiniLM-L6-v2")
    ('Vectors_all_MiniLM_L6_v2_07db4e1f', 'vectors_all_MiniLM_L6_v2_07db4e1f')
    """
    digest = hashlib.sha256(model.encode("utf-8")).hexdigest()[:8]
    slug = re.sub(r"[^A-Za-z0-9]+", "_", model).strip("_")[:40]
    stem = f"{slug}_{digest}" if slug else digest
    return f"Vectors_{stem}", f"vectors_{stem}"


# --- what the vectors cost -----------------------------------------------------------------


@dataclass(frozen=True)
class StoreCost:
    """Bytes the vectors of a model add: in the property store (read through the page cache), in the
    vector index's files, and in transaction logs while they are written."""

    properties: int
    index: int
    logs: int

    @property
    def disk(self) -> int:
        return self.properties + self.index + self.logs


def vector_cost(tokens: int, dim: int) -> StoreCost:
    """What storing ``tokens`` vectors of ``dim`` float32 components costs (an estimate, measured on Neo4j 5.26).

    The property store keeps a float32 array in 128-byte records of 120 data bytes; the
    vector index (Lucene HNSW, unquantized) holds the vectors again as float32 and the
    graph's links; the transaction log holds each write once. Measured growth: MiniLM
    (30,522 x 384) 46 MiB of index, the 151,665 x 1536 stand-in 960 MiB of array store
    and 895 MiB of index (README, ``atlas vectors``).

    >>> cost = vector_cost(151_665, 1536)
    >>> round(cost.properties / 2**20), round(cost.index / 2**20)
    (972, 898)
    """
    per_array = math.ceil((4 * dim + 8) / 120) * 128 + 64  # array records, the property record and the label
    per_index = 4 * dim + 64  # the float32 copy and the HNSW graph's links
    per_log = 4 * dim + 120
    return StoreCost(tokens * per_array, tokens * per_index, tokens * per_log)


def check_room(store: Store, tokens: int, dim: int) -> list[str]:
    """Raise NoRoom when Neo4j's page cache or disk cannot hold ``tokens`` vectors of ``dim``; returns what could not be checked.

    The page cache size comes from the server (``dbms.listConfig``); the free disk of the
    database's data folder is looked at when the server runs on this machine.
    """
    cost = vector_cost(tokens, dim)
    notes: list[str] = []
    try:
        settings = {r["name"]: r["value"] for r in store.read("server_config", names=[PAGE_CACHE, DATA_FOLDER])}
    except AtlasError as exc:
        settings = {}
        notes.append(f"the server's settings cannot be read ({exc}): its page cache and disk were not checked")
    if settings:
        page_cache = size_bytes(settings.get(PAGE_CACHE))
        if page_cache is None:
            notes.append(f"the server does not say its page cache size ({PAGE_CACHE} is not set): not checked")
        elif cost.properties > page_cache:
            raise NoRoom(
                f"the vectors need about {size_text(cost.properties)} of Neo4j's page cache, which is {size_text(page_cache)}; "
                f"raise {PAGE_CACHE} (atlas db start --pagecache) and restart Neo4j"
            )
    folder = settings.get(DATA_FOLDER)
    host = urlparse(store.settings.uri).hostname or ""
    if folder and host in LOOPBACK and Path(folder).is_dir():
        free = shutil.disk_usage(folder).free
        if cost.disk > free:
            raise NoRoom(
                f"the vectors need about {size_text(cost.disk)} of disk in {folder} (store, index and transaction logs), "
                f"and {size_text(free)} is free; free some space first"
            )
    elif settings:
        notes.append(f"Neo4j at {store.settings.uri} is not on this machine: its free disk was not checked")
    return notes


# --- writing them ----------------------------------------------------------------------------


@dataclass(frozen=True)
class VectorsReport:
    name: str
    stored: int  # tokens given a vector
    zero: int  # tokens left without one (a zero row)
    index: str
    seconds: float
    skipped: bool  # the model's vectors were complete already
    notes: tuple[str, ...] = ()  # what could not be checked before writing


def vector_rows(ids: np.ndarray, rows: np.ndarray) -> list[dict]:
    """Write rows ``{id, embedding}`` of unit rows, leaving out rows of zero norm.

    >>> vector_rows(np.array([4, 5]), np.array([[3.0, 4.0], [0.0, 0.0]], np.float32))
    [{'id': 4, 'embedding': [0.6000000238418579, 0.800000011920929]}]
    """
    rows = np.asarray(rows, dtype=np.float32)  # (n, d)
    norms = np.linalg.norm(rows, axis=1)  # (n,)
    keep = norms > 0
    unit = rows[keep] / norms[keep, None]  # (m, d) float32
    return [{"id": int(i), "embedding": vector.tolist()} for i, vector in zip(ids[keep].tolist(), unit)]


def store_vectors_from_source(
    store: Store,
    model: str,
    offline: bool = False,
    replace: bool = False,
    on_progress: StageProgress | None = None,
) -> VectorsReport:
    """Store the vectors of a stored model, reading its rows in blocks from its recorded source (see :func:`store_vectors`)."""
    props = store.require_model(model)
    refuse_layer_atlas(props, "`atlas vectors` (store them with `atlas load --layer L --vectors`)")
    ids = np.array([r["id"] for r in store.read("tokens_all", model=model)], dtype=np.int64)  # (V,) sorted
    with Lease(store, model) as lease:
        return store_vectors(
            store,
            model,
            int(props["dim"]),
            ids,
            lambda: _source_blocks(props, ids, offline),
            replace,
            on_progress,
            lease,
        )


def _source_blocks(props: dict, ids: np.ndarray, offline: bool) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(token ids, their rows)`` of the stored tokens, a block of matrix rows at a time."""
    matrix = embedding_rows(props["source"], offline=offline, name=props.get("embedding_tensor"))
    step = max(1, FLOATS_PER_BATCH // matrix.dims)
    buffer = np.empty((step, matrix.dims), dtype=np.float32)  # (B, d)
    for start in range(0, matrix.rows, step):
        stop = min(start + step, matrix.rows)
        lo, hi = np.searchsorted(ids, [start, stop])
        if hi > lo:
            block = matrix.read(start, stop, buffer)  # (stop - start, d)
            yield ids[lo:hi], block[ids[lo:hi] - start]


def matrix_blocks(ids: np.ndarray, matrix: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(token ids, rows)`` of an in-memory table (row i is token ids[i]), in write-sized blocks."""
    step = max(1, FLOATS_PER_BATCH // max(1, matrix.shape[1]))
    for start in range(0, len(ids), step):
        yield ids[start : start + step], matrix[start : start + step]


def store_vectors(
    store: Store,
    model: str,
    dim: int,
    ids: np.ndarray,
    blocks: Callable[[], Iterable[tuple[np.ndarray, np.ndarray]]],
    replace: bool = False,
    on_progress: StageProgress | None = None,
    lease: Lease | None = None,
) -> VectorsReport:
    """Give every token ``ids`` of ``model`` its unit row as ``embedding`` and the model's label, then index them.

    ``blocks()`` yields ``(token ids, rows (n, dim))``. Checks first that the page cache
    and disk can hold the vectors (:func:`check_room`). The Model node says
    ``vectors: 'writing'`` until every vector is written and the index is online, then
    ``'complete'``; every write is idempotent, so an interrupted run is finished by
    running it again, and a complete model is left as it is unless ``replace``.
    """
    began = time.perf_counter()
    on_progress = on_progress or ignore
    props = store.require_model(model)
    label, index = vector_names(model)
    if props.get("vectors") == "complete" and not replace:
        return VectorsReport(
            model, int(props.get("vectors_stored", 0)), int(props.get("vectors_zero", 0)), index, 0.0, True
        )
    if int(props.get("dim", dim)) != dim:
        raise InvalidArgument(f"model {model!r} has {props.get('dim')} dimensions, but its rows have {dim}")
    notes = check_room(store, len(ids), dim)
    store.write("model_vectors", name=model, status="writing", props={"vector_label": label, "vector_index": index})
    stored = zero = 0

    def batches() -> Iterator[Callable[[], int]]:
        nonlocal stored, zero
        for block_ids, rows in blocks():
            batch = vector_rows(np.asarray(block_ids), rows)
            stored += len(batch)
            zero += len(block_ids) - len(batch)
            parts = list(batched(batch, max(1, FLOATS_PER_BATCH // dim))) or [[]]
            for n, part in enumerate(parts):
                tokens = len(block_ids) if n == len(parts) - 1 else 0  # the block counts as done with its last part
                yield partial(_write_vectors, store, model, label, part, tokens)

    on_progress("vectors", 0, len(ids))
    write_concurrently(
        batches(), WRITERS, lambda tokens: on_progress("vectors", tokens, len(ids))
    )  # memory stays bounded
    store.write_labelled("vectors_index_create", label, name=index, dim=dim)
    _await_index(store, index, stored, on_progress)
    if lease is not None and lease.lost:
        raise AtlasError(
            f"another load took over model {model!r} while its vectors were written; run `atlas vectors` again"
        )
    store.write(
        "model_vectors",
        name=model,
        status="complete",
        props={"vectors_stored": stored, "vectors_zero": zero, "vectors_at": datetime.now(timezone.utc).isoformat()},
    )
    return VectorsReport(model, stored, zero, index, time.perf_counter() - began, False, tuple(notes))


def _write_vectors(store: Store, model: str, label: str, rows: list[dict], tokens: int) -> int:
    """Write one batch of :func:`vector_rows` in one transaction; returns ``tokens``, how many tokens it finishes."""
    store.write("vectors_write", model=model, label=label, rows=rows)
    return tokens


def _await_index(store: Store, index: str, tokens: int, on_progress: StageProgress) -> None:
    """Wait until the index is online, telling how many of ``tokens`` it holds (from its population percentage); AtlasError if it fails."""
    done = 0
    deadline = time.monotonic() + INDEX_TIMEOUT
    on_progress("index", 0, tokens)
    while True:
        rows = store.read("vectors_index_state", name=index)
        if not rows:
            raise AtlasError(f"the vector index {index} was not created; run `atlas vectors` again")
        state = rows[0]["state"]
        indexed = tokens if state == "ONLINE" else int(tokens * float(rows[0]["percent"] or 0) / 100)
        if indexed > done:
            on_progress("index", indexed - done, tokens)
            done = indexed
        if state == "ONLINE":
            return
        if state == "FAILED":
            raise AtlasError(
                f"Neo4j could not build the vector index {index}; see its log, then run `atlas vectors` again"
            )
        if time.monotonic() > deadline:
            raise AtlasError(
                f"the vector index {index} is still {state.lower()} after {INDEX_TIMEOUT} s; look again later"
            )
        time.sleep(INDEX_POLL)
