"""The load pipeline: an embedding table -> exact neighbours -> Neo4j, streamed block by block."""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

import numpy as np

from atlas.errors import InvalidArgument, ModelExists
from atlas.neighbours import check_k, check_matrix, check_settings, iter_neighbours, resolve_device
from atlas.rows import batched, edge_rows, token_rows, variant_rows
from atlas.store import Store

from .source import EmbeddingTable

Progress = Callable[[str, int, int], None]  # (stage, items just done, stage total)


@dataclass(frozen=True)
class LoadReport:
    name: str
    tokens: int
    edges: int
    variants: int
    skipped: bool  # the same model was already complete: nothing was written
    seconds: float


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
    progress: Progress | None = None,
) -> LoadReport:
    """Store ``table``'s tokens, variant groups and exact top-k SIMILAR_TO edges.

    Idempotent: re-running the same load of a complete model writes nothing; re-running
    an interrupted one finishes it. ``replace`` deletes the stored model first.
    ``batch_size`` is the number of tokens or edges per write transaction.
    """
    began = time.perf_counter()
    check_k(k, len(table))  # every argument is checked before anything is written
    check_matrix(table.matrix)
    check_settings(block_rows, dtype)
    device = resolve_device(device)
    if batch_size < 1:
        raise InvalidArgument(f"batch size must be at least 1, got {batch_size}")
    report = progress or (lambda stage, done, total: None)
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
            return LoadReport(table.name, len(table), existing.get("edges", 0), 0, True, time.perf_counter() - began)
        if not same:
            raise ModelExists(
                f"model {table.name!r} is already stored with other settings "
                f"(k={existing.get('k')}, dtype={existing.get('dtype')}, source={existing.get('source')}); "
                "pass --replace to reload it or --name to store this one beside it"
            )

    store.ensure_schema()
    store.write("model_begin", name=table.name, props={**props, "created_at": datetime.now(timezone.utc).isoformat()})

    tokens = token_rows(table.ids, table.text, table.raw, table.special)
    element_ids: dict[int, str] = {}
    for written in store.write_batches("tokens_write", batched(tokens, batch_size), model=table.name):
        element_ids.update((r["id"], r["element_id"]) for r in written)
        report("tokens", len(written), len(tokens))
    variants = variant_rows(table.ids, table.raw, table.special, table.family)
    batches = list(batched(variants, batch_size))
    for batch, _ in zip(batches, store.write_batches("variants_write", batches, model=table.name)):
        report("variants", len(batch), len(variants))

    keys = np.array([element_ids[i] for i in table.ids.tolist()], dtype=object)  # row -> element id
    # a model stored just now has no edges to replace: plain CREATE is enough and faster
    statement = "edges_create" if existing is None or replace else "edges_write"
    edges = _write_edges(store, table, keys, statement, k, device, dtype, block_rows, max(1, batch_size // k), report)
    store.write("model_complete", name=table.name, edges=edges)
    return LoadReport(table.name, len(table), edges, len(variants), False, time.perf_counter() - began)


WRITERS = 2  # concurrent write transactions: Neo4j spreads them over its cores (about 1.4x one writer here)


def _write_edges(store, table, keys, statement, k, device, dtype, block_rows, rows_per_batch, report) -> int:
    """Compute blocks in this thread while WRITERS threads write the batches of earlier blocks.

    At most two blocks' batches wait unwritten, so memory stays bounded. Batches touch
    disjoint source tokens; a transaction that hits a deadlock is retried by the driver.
    """
    total = 0
    pending: deque[list[Future]] = deque()
    with ThreadPoolExecutor(max_workers=WRITERS) as writers:
        for block in iter_neighbours(table.matrix, k, block_rows=block_rows, device=device, dtype=dtype):
            rows = edge_rows(block.start, block.ids, block.scores, keys)
            pending.append([writers.submit(_write_batch, store, statement, b) for b in batched(rows, rows_per_batch)])
            while len(pending) > 2:
                total += sum(f.result() for f in pending.popleft())
            report("neighbours", len(block.ids), len(table))
        for futures in pending:
            total += sum(f.result() for f in futures)
    return total


def _write_batch(store: Store, statement: str, rows: list[dict]) -> int:
    for _ in store.write_batches(statement, [rows]):
        pass
    return sum(len(r["targets"]) for r in rows)


def rebuild_variants(store: Store, name: str, batch_size: int = 20_000) -> int:
    """Recompute a stored model's variant groups from its tokens (for models loaded before grouping existed)."""
    props = store.require_model(name)
    while store.write("variants_delete_batch", model=name, limit=batch_size)[0]["deleted"]:
        pass
    tokens = store.read("tokens_all", model=name)
    ids = np.array([t["id"] for t in tokens], dtype=np.int64)
    rows = variant_rows(ids, [t["raw"] for t in tokens], [bool(t["special"]) for t in tokens], props["family"])
    store.ensure_schema()
    for _ in store.write_batches("variants_write", batched(rows, batch_size), model=name):
        pass
    return len(rows)
