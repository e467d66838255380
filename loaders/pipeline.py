"""The load pipeline: an embedding table -> exact neighbours and the principal plane -> Neo4j -> the analysis.

One load of a model name runs at a time (:class:`atlas.graph.lease.Lease`). The neighbours of
every token are computed first (a V x k table, 36 MB for 151,665 tokens at k=20), so
each edge is written with its mutual flag, each token knows its in-degree, and the
analysis at the end works on the load's own graph. A model is marked ``complete`` only
after the database was checked to hold exactly that graph.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial

import numpy as np

from atlas.core import analysis, arguments
from atlas.core.principal import principal_plane
from atlas.core.progress import StageProgress, ignore
from atlas.core.token_text import check_model_name
from atlas.core.topk import DTYPES, NeighbourBlocks, iter_neighbours
from atlas.errors import (
    DatabaseFailed,
    ModelExists,
    ModelInconsistent,
    Neo4jNotAnswering,
    Neo4jUnavailable,
)
from atlas.graph.concurrent import write_concurrently
from atlas.graph.lease import Lease
from atlas.graph.store import REPLY_SECONDS, Store
from atlas.graph.vectors import check_room
from atlas.graph.verify import problems
from atlas.graph.write_params import edge_params, token_rows, variant_rows
from atlas.graph.writes import write_edge_batch, write_tokens, write_variants
from atlas.results import LoadReport, VectorsReport

from .analyse import analyse_and_store, analyse_stored
from .source import EmbeddingTable
from .vectors import matrix_blocks, store_vectors

WRITERS = 2  # concurrent write transactions: Neo4j spreads them over its cores (about 1.4x one writer here)


@dataclass(frozen=True)
class AnalysisSettings:
    """How the load's analysis runs (see :mod:`atlas.core.analysis`)."""

    resolution: float = analysis.RESOLUTION
    seed: int = 0
    epochs: int = analysis.EPOCHS


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
    analyse: AnalysisSettings | None = None,
    vectors: bool = False,
    on_progress: StageProgress | None = None,
    lease_seconds: float | None = None,
    any_stored_dtype: bool = False,
) -> LoadReport:
    """Store ``table``'s tokens, variant groups and exact top-k SIMILAR_TO edges, then (with ``analyse``) analyse them.

    Idempotent: re-running the same load of a complete model writes nothing (but
    analyses it if it has no analysis yet, and stores its vectors if asked and missing);
    re-running an interrupted one finishes it. ``vectors`` stores every token's unit
    row as a vector property and indexes it (:mod:`atlas.graph.vectors`) once the graph is
    complete. ``replace`` deletes the stored model first. ``batch_size`` is the number of tokens
    or edges per write transaction. Every argument is checked before anything is
    written. Raises ModelBusy while another load of the same name runs. ``dtype`` is the one
    computed in and recorded on the Model node; ``any_stored_dtype`` (a load that let the
    hardware pick it) takes a stored model computed in the other dtype as the same.
    """
    check_model_name(table.name)
    began = time.perf_counter()
    batch_size = arguments.integer(batch_size, "batch_size", 1)
    blocks = iter_neighbours(table.matrix, k, block_rows=block_rows, device=device, dtype=dtype)  # checks the rest
    on_progress = on_progress or ignore
    props = {
        "source": table.source,
        "dim": table.dim,
        "vocab_size": len(table),
        "matrix_rows": table.matrix_rows,
        "k": k,
        "dtype": dtype,
        "family": table.family,
        "layer": table.layer,  # None (not stored) for a model's input embeddings
        **(table.props or {}),  # a corpus atlas: its method, corpus and parameters
    }
    with Lease(store, table.name, **({"seconds": lease_seconds} if lease_seconds else {})) as lease:
        if vectors:
            check_room(store, len(table), table.dim)  # refuse before writing anything, not after the graph
        existing = store.model(table.name)
        if existing is not None and replace:
            store.delete_model(table.name, done=lambda n: on_progress("delete", n, 0))
            existing = None
        elif existing is not None:
            same = all(
                existing.get(key) == value
                for key, value in props.items()
                if not (any_stored_dtype and key == "dtype" and existing.get(key) in DTYPES)
            )
            if not same:
                raise ModelExists(
                    f"model {table.name!r} is already stored with other settings "
                    f"(k={existing.get('k')}, dtype={existing.get('dtype')}, source={existing.get('source')}); "
                    "pass replace=True (--replace) to reload it, or another name (--name) to store this one beside it"
                )
            if existing.get("status") == "complete":
                communities = None
                if analyse is not None and existing.get("analysis") != "complete":
                    communities = _analyse_stored(store, table.name, analyse, on_progress, lease)
                stored = _store_vectors(store, table, on_progress, lease) if vectors else None
                return LoadReport(
                    table.name,
                    len(table),
                    existing.get("edges", 0),
                    0,
                    True,
                    time.perf_counter() - began,
                    blocks.device,
                    communities,
                    stored,
                )

        neighbours, scores = _compute(blocks, len(table), k, on_progress)  # (V, k) row numbers, (V, k) cosines
        on_progress("pca", 0, 1)
        plane, shares = principal_plane(
            table.matrix
        )  # (V, 2) each token on the principal plane: `atlas map --layout pca`
        on_progress("pca", 1, 1)
        counts = (neighbours >= 0).sum(axis=1)  # (V,)
        zero_ids = table.ids[counts == 0].tolist()  # zero-norm rows: no direction, no neighbours
        try:
            store.ensure_schema()
            extra = (
                {"zero_ids": zero_ids, "pca_variance": [round(float(v), 6) for v in shares]}
                | ({} if table.props and "method" in table.props else {"method": table.method})
                | ({"embedding_tensor": table.tensor} if table.tensor else {})
            )
            store.write("model_begin", name=table.name, props={**props, **extra, "created_at": _now()})

            tokens = token_rows(table.ids, table.text, table.raw, table.special, table.counts, plane)
            on_progress("tokens", 0, len(tokens))  # each stage starts its clock before its first batch
            node_ids = write_tokens(
                store, table.name, tokens, batch_size, lambda n: on_progress("tokens", n, len(tokens))
            )
            variants = variant_rows(table.ids, table.raw, table.special, table.family)
            on_progress("variants", 0, len(variants))
            write_variants(store, table.name, variants, batch_size, lambda n: on_progress("variants", n, len(variants)))

            nodes = np.array([node_ids[i] for i in table.ids.tolist()], dtype=np.int64)  # row -> internal node id
            both = analysis.mutual(neighbours)
            # a model stored just now has no edges to replace: plain CREATE is enough and faster
            statement = "edges_create" if existing is None else "edges_write"
            expected = int((neighbours >= 0).sum())
            on_progress("edges", 0, expected)
            edges = _write_edges(
                store,
                neighbours,
                scores,
                both,
                nodes,
                statement,
                max(1, batch_size // k),
                lambda n: on_progress("edges", n, expected),
            )
            on_progress("verify", 0, 1)
            per_token, zero_rows = int(counts.max(initial=0)), len(zero_ids)
            wrong = problems(
                store, table.name, tokens=len(table), per_token=per_token, without=zero_rows, zero_ids=zero_ids
            )
            if wrong or not lease.renew():  # a holder stalled past its lease may have been taken over
                reason = "; ".join(wrong) if wrong else "another load took over this model's lease"
                raise ModelInconsistent(
                    f"the graph of {table.name!r} is not exact after the load: {reason}; it stays 'loading': "
                    "run the same `atlas load` again to rewrite it"
                )
            on_progress("verify", 1, 1)
            store.write("model_complete", name=table.name, edges=edges, per_token=per_token, zero_rows=zero_rows)

        except Neo4jUnavailable as exc:
            silent = f" (no reply in {REPLY_SECONDS} s)" if isinstance(exc, Neo4jNotAnswering) else ""
            raise type(exc)(
                f"Neo4j at {store.settings.uri} stopped answering during the load{silent}; "
                f"model {table.name!r} stays 'loading': "
                "start Neo4j (`atlas db start`, or `docker compose up -d`) and run the same `atlas load` again to finish it"
            ) from None
        except DatabaseFailed as exc:
            raise DatabaseFailed(
                f"{exc}; then run the same `atlas load` again to finish model {table.name!r} (it stays 'loading')"
            ) from None

        communities = None
        if analyse is not None:
            try:
                communities = _analyse(
                    store, table, neighbours, scores, variants, analyse, batch_size, on_progress, lease
                )
            except (Neo4jUnavailable, DatabaseFailed) as exc:
                raise type(exc)(
                    f"{exc}; model {table.name!r} is loaded but its analysis was not stored: "
                    f"run `atlas analyse --model {table.name}` once Neo4j answers again"
                ) from None
        stored = _store_vectors(store, table, on_progress, lease) if vectors else None
    return LoadReport(
        table.name,
        len(table),
        edges,
        len(variants),
        False,
        time.perf_counter() - began,
        blocks.device,
        communities,
        stored,
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _compute(blocks: NeighbourBlocks, rows: int, k: int, on_progress: StageProgress) -> tuple[np.ndarray, np.ndarray]:
    """Every row's neighbours: ``(ids (V, k) int32 row numbers, -1 for none; scores (V, k) float32)``."""
    neighbours = np.full((rows, k), -1, dtype=np.int32)
    scores = np.full((rows, k), np.nan, dtype=np.float32)
    on_progress("neighbours", 0, rows)  # the stage starts now: its preparation is timed as its own
    for block in blocks:
        stop = block.start + len(block.ids)
        neighbours[block.start : stop] = block.ids
        scores[block.start : stop] = block.scores
        on_progress("neighbours", len(block.ids), rows)
    return neighbours, scores


def _write_edges(
    store: Store,
    neighbours: np.ndarray,
    scores: np.ndarray,
    both: np.ndarray,
    nodes: np.ndarray,
    statement: str,
    rows_per_batch: int,
    done: Callable[[int], None],
) -> int:
    """Write every row's edges, ``rows_per_batch`` source tokens per transaction, in WRITERS concurrent transactions.

    Batches touch disjoint source tokens; a transaction that hits a deadlock is retried by the driver.
    The first failed batch ends the stage: batches not yet started are dropped, not
    each tried against a server that has stopped answering.
    """
    total = 0

    def batches() -> Iterator[Callable[[], int]]:
        for s in range(0, len(neighbours), rows_per_batch):
            part = slice(s, s + rows_per_batch)
            yield partial(
                write_edge_batch, store, statement, edge_params(s, neighbours[part], scores[part], nodes, both[part])
            )

    def written(edges: int) -> None:
        nonlocal total
        total += edges
        done(edges)

    done(0)
    write_concurrently(batches(), WRITERS, written)  # memory stays bounded: see write_concurrently
    return total


def _analyse(store, table, neighbours, scores, variants, settings, batch_size, on_progress, lease) -> int:
    """Analyse the load's own graph and store the result; returns the number of communities."""
    keys: list[str | None] = [None] * len(table)
    row_of = {int(token): row for row, token in enumerate(table.ids.tolist())}
    for v in variants:
        keys[row_of[v["id"]]] = v["key"]
    result = analyse_and_store(
        store,
        table.name,
        table.ids,
        neighbours,
        scores,
        table.text,
        table.special,
        keys,
        table.family,
        settings.resolution,
        settings.seed,
        settings.epochs,
        batch_size,
        on_progress,
        lease,
        mark_mutual=False,  # the load wrote its edges with their mutual flags
    )
    return len(result.communities)


def _store_vectors(store: Store, table: EmbeddingTable, on_progress: StageProgress, lease: Lease) -> VectorsReport:
    """Store the table's rows as the tokens' vectors and index them (see :func:`atlas.loaders.vectors.store_vectors`)."""
    return store_vectors(
        store,
        table.name,
        table.dim,
        table.ids,
        lambda: matrix_blocks(table.ids, table.matrix),
        on_progress=on_progress,
        lease=lease,
    )


def _analyse_stored(store, name, settings, on_progress, lease) -> int:
    return analyse_stored(
        store, name, settings.resolution, settings.seed, settings.epochs, on_progress, lease=lease
    ).communities
