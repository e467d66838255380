"""Storing a model's vectors: each token's unit row written to Neo4j and indexed, from the load's own matrix or read
again from the model's recorded source (how they sit in the graph: :mod:`atlas.graph.vectors`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from functools import partial

import numpy as np

from atlas.core.progress import StageProgress, ignore
from atlas.errors import AtlasError, InvalidArgument
from atlas.files.hidden_states import refuse_layer_atlas
from atlas.files.model_files import embedding_rows
from atlas.graph.concurrent import write_concurrently
from atlas.graph.lease import Lease
from atlas.graph.store import Store
from atlas.graph.vectors import FLOATS_PER_BATCH, await_index, check_room, vector_names, vector_rows, write_vectors
from atlas.graph.write_params import batched
from atlas.results import VectorsReport

WRITERS = 2  # concurrent write transactions on disjoint tokens (about 1.3x one writer here)


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
    and disk can hold the vectors (:func:`atlas.graph.vectors.check_room`). The Model node says
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
                yield partial(write_vectors, store, model, label, part, tokens)

    on_progress("vectors", 0, len(ids))
    write_concurrently(
        batches(), WRITERS, lambda tokens: on_progress("vectors", tokens, len(ids))
    )  # memory stays bounded
    store.write_labelled("vectors_index_create", label, name=index, dim=dim)
    await_index(store, index, stored, on_progress)
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
