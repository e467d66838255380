"""The load pipeline: an embedding table -> exact neighbours -> Neo4j, streamed block by block."""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import numpy as np

from atlas.errors import DatabaseFailed, InvalidArgument, ModelExists, Neo4jUnavailable
from atlas.neighbours import NeighbourBlocks, iter_neighbours
from atlas.rows import batched, edge_rows, token_rows, variant_rows
from atlas.store import Store
from atlas.writes import write_edge_batch, write_tokens, write_variants

from .source import EmbeddingTable

StageProgress = Callable[[str, int, int], None]  # (stage, items just done, stage total)

WRITERS = 2  # concurrent write transactions: Neo4j spreads them over its cores (about 1.4x one writer here)


@dataclass(frozen=True)
class LoadReport:
    name: str
    tokens: int
    edges: int
    variants: int
    skipped: bool  # the same model was already complete: nothing was written
    seconds: float
    device: str  # where the neighbours were computed


def load(
    store: Store,
    table: EmbeddingTable,
    k: int,
    *,
    replace: bool = False,
    device: str = "cpu",
    dtype: str = "float32",
    block_rows: int = 1024,
    batch_size: int = 20_000,
    on_progress: StageProgress | None = None,
) -> LoadReport:
    """Store ``table``'s tokens, variant groups and exact top-k SIMILAR_TO edges.

    Idempotent: re-running the same load of a complete model writes nothing; re-running
    an interrupted one finishes it. ``replace`` deletes the stored model first.
    ``batch_size`` is the number of tokens or edges per write transaction. Every
    argument is checked before anything is written.
    """
    began = time.perf_counter()
    if batch_size < 1:
        raise InvalidArgument(f"batch size must be at least 1, got {batch_size}")
    blocks = iter_neighbours(table.matrix, k, block_rows=block_rows, device=device, dtype=dtype)  # checks the rest
    device = blocks.device
    progress = on_progress or (lambda stage, done, total: None)
    props = {
        "source": table.source,
        "dim": table.dim,
        "vocab_size": len(table),
        "matrix_rows": table.matrix_rows,
        "k": k,
        "dtype": dtype,
        "family": table.family,
    }
    existing = store.model(table.name)
    if existing is not None and replace:
        store.delete_model(table.name)
    elif existing is not None:
        same = all(existing.get(key) == value for key, value in props.items())
        if same and existing.get("status") == "complete":
            return LoadReport(table.name, len(table), existing.get("edges", 0), 0, True, time.perf_counter() - began, device)
        if not same:
            raise ModelExists(
                f"model {table.name!r} is already stored with other settings "
                f"(k={existing.get('k')}, dtype={existing.get('dtype')}, source={existing.get('source')}); "
                "pass --replace to reload it or --name to store this one beside it"
            )

    store.ensure_schema()
    extra = {"embedding_tensor": table.tensor} if table.tensor else {}
    store.write("model_begin", name=table.name, props={**props, **extra, "created_at": datetime.now(timezone.utc).isoformat()})

    try:
        tokens = token_rows(table.ids, table.text, table.raw, table.special)
        element_ids = write_tokens(store, table.name, tokens, batch_size, lambda n: progress("tokens", n, len(tokens)))
        variants = variant_rows(table.ids, table.raw, table.special, table.family)
        write_variants(store, table.name, variants, batch_size, lambda n: progress("variants", n, len(variants)))

        keys = np.array([element_ids[i] for i in table.ids.tolist()], dtype=object)  # row -> element id
        # a model stored just now has no edges to replace: plain CREATE is enough and faster
        statement = "edges_create" if existing is None or replace else "edges_write"
        rows_per_batch = max(1, batch_size // k)
        edges = _write_edges(store, blocks, keys, statement, rows_per_batch, lambda n: progress("neighbours", n, len(table)))
        store.write("model_complete", name=table.name, edges=edges)
    except Neo4jUnavailable:
        raise Neo4jUnavailable(
            f"Neo4j at {store.settings.uri} stopped answering during the load; model {table.name!r} stays 'loading': "
            "start Neo4j (`atlas db start`, or `docker compose up -d`) and run the same `atlas load` again to finish it"
        ) from None
    except DatabaseFailed as exc:
        raise DatabaseFailed(
            f"{exc}; then run the same `atlas load` again to finish model {table.name!r} (it stays 'loading')"
        ) from None
    return LoadReport(table.name, len(table), edges, len(variants), False, time.perf_counter() - began, device)


def _write_edges(
    store: Store,
    blocks: NeighbourBlocks,
    keys: np.ndarray,
    statement: str,
    rows_per_batch: int,
    done: Callable[[int], None],
) -> int:
    """Compute blocks in this thread while WRITERS threads write the batches of earlier blocks.

    At most two blocks' batches wait unwritten, so memory stays bounded. Batches touch
    disjoint source tokens; a transaction that hits a deadlock is retried by the driver.
    The first failed batch ends the stage: batches not yet started are dropped, not
    each tried against a server that has stopped answering.
    """
    total = 0
    done(0)  # the stage starts now: its preparation is timed as its own
    pending: deque[list[Future]] = deque()
    with ThreadPoolExecutor(max_workers=WRITERS) as writers:
        try:
            for block in blocks:
                rows = edge_rows(block.start, block.ids, block.scores, keys)
                pending.append([writers.submit(write_edge_batch, store, statement, b) for b in batched(rows, rows_per_batch)])
                while len(pending) > 2:
                    total += sum(f.result() for f in pending.popleft())
                done(len(block.ids))
            for futures in pending:
                total += sum(f.result() for f in futures)
        except BaseException:
            writers.shutdown(wait=True, cancel_futures=True)
            raise
    return total
