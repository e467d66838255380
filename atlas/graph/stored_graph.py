"""A stored model's whole graph read back as arrays (for its analysis), and as the whole-vocabulary map.

The analysis of a stored model and the whole-vocabulary map both start here. Tokens and
edges come in id slices, each slice as one row of parallel lists
(``cypher/graph_read_tokens.cypher``, ``cypher/graph_read_edges.cypher``) placed into the
arrays with numpy; two sessions read slices at once. A 151,665-token model with 3 million
edges is a few dozen reads.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from atlas.graph.store import Store

SLICE = 8_000  # token ids per read: with k = 20, 160,000 edges in one row of lists
SESSIONS = 2  # slices read at once


@dataclass
class StoredGraph:
    """Row ``i`` is token ``ids[i]`` (ids ascending); ``neighbours`` holds row indices, -1 for none.

    What an analysis stored is None before one (``measures`` then empty).
    """

    model: str
    props: dict  # the Model node's properties
    ids: np.ndarray  # (n,) int64
    text: list[str]
    special: list[bool]
    keys: list[str | None]  # variant keys
    neighbours: np.ndarray  # (n, k) int32 row indices, best first
    scores: np.ndarray  # (n, k) float32, NaN for none
    cited: np.ndarray | None  # (n,) int32, None before an analysis
    community: np.ndarray | None  # (n,) int32, -1 for none; None before an analysis
    xy: np.ndarray | None  # (n, 2) float32, NaN for none; None before an analysis
    plane: np.ndarray | None  # (n, 2) float32 places on the principal plane; None for a model loaded without them
    measures: dict[
        str, np.ndarray
    ]  # out_degree, core (int32), pagerank, clustering (float32) per row; {} before an analysis

    def __len__(self) -> int:
        return len(self.ids)


def read_graph(store: Store, model: str, done: Callable[[int], None] | None = None) -> StoredGraph:
    """Read the complete model ``model`` back; ``done(n)`` is told as each slice of n tokens arrives."""
    props = store.require_model(model)
    k = int(props["k"])
    top = store.read("tokens_top_id", model=model)[0]["top"]
    starts = range(0, -1 if top is None else int(top) + 1, SLICE)

    def read_slice(start: int) -> tuple[dict, dict]:
        bounds = {"from": start, "to": start + SLICE}
        return store.read_row("graph_read_tokens", model=model, **bounds), store.read_row(
            "graph_read_edges", model=model, **bounds
        )

    token_parts: list[dict] = []
    edge_parts: list[tuple[np.ndarray, ...]] = []
    with ThreadPoolExecutor(SESSIONS) as pool:
        for tokens, edges in pool.map(read_slice, starts):
            token_parts.append(tokens)
            edge_parts.append(
                (
                    np.asarray(edges["sources"], dtype=np.int64),
                    np.asarray(edges["ranks"], dtype=np.int64),
                    np.asarray(edges["targets"], dtype=np.int64),
                    np.asarray(edges["scores"], dtype=np.float32),
                )
            )
            if done is not None:
                done(len(tokens["ids"]))
    column = lambda name: [v for part in token_parts for v in part[name]]  # noqa: E731
    ids = np.asarray(column("ids"), dtype=np.int64)
    sources, ranks, targets, scores_flat = (np.concatenate([p[i] for p in edge_parts]) for i in range(4))
    neighbours, scores = place_edges(ids, k, sources, ranks, targets, scores_flat)
    analysed = props.get("analysis") == "complete"
    plane = np.stack(
        [np.asarray(column("pca_x"), np.float32), np.asarray(column("pca_y"), np.float32)], axis=1
    ).reshape(len(ids), 2)
    cited = np.asarray(column("cited"), dtype=np.int32)
    return StoredGraph(
        model=model,
        props=props,
        ids=ids,
        text=column("texts"),
        special=[bool(s) for s in column("special")],
        keys=[key or None for key in column("keys")],
        neighbours=neighbours,
        scores=scores,
        cited=np.maximum(cited, 0) if analysed else None,
        community=np.asarray(column("community"), dtype=np.int32) if analysed else None,
        xy=np.stack([np.asarray(column("x"), np.float32), np.asarray(column("y"), np.float32)], axis=1).reshape(
            len(ids), 2
        )
        if analysed
        else None,
        plane=plane if "pca_variance" in props else None,
        measures={
            "out_degree": np.asarray(column("out_degree"), dtype=np.int32),
            "core": np.asarray(column("core"), dtype=np.int32),
            "pagerank": np.asarray(column("pagerank"), dtype=np.float32),
            "clustering": np.asarray(column("clustering"), dtype=np.float32),
        }
        if analysed
        else {},
    )


def place_edges(
    ids: np.ndarray, k: int, sources: np.ndarray, ranks: np.ndarray, targets: np.ndarray, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Edges given as token ids and ranks (1 = nearest) placed as ``(neighbours (n, k) int32 rows, scores (n, k) float32)``.

    Rows follow ``ids`` (ascending); a missing edge is -1 with score NaN; ranks past ``k`` and
    edges between ids not in ``ids`` are left out.

    >>> rows, cos = place_edges(np.array([3, 5, 9]), 2, np.array([3, 3, 9]), np.array([2, 1, 1]),
    ...                         np.array([9, 5, 3]), np.array([0.5, 0.75, 0.25], np.float32))
    >>> rows.tolist(), cos.tolist()
    ([[1, 2], [-1, -1], [0, -1]], [[0.75, 0.5], [nan, nan], [0.25, nan]])
    """
    n = len(ids)
    neighbours = np.full((n, k), -1, dtype=np.int32)
    out = np.full((n, k), np.nan, dtype=np.float32)
    if n == 0 or len(sources) == 0:
        return neighbours, out
    row = np.minimum(np.searchsorted(ids, sources), n - 1)
    col = np.minimum(np.searchsorted(ids, targets), n - 1)
    keep = (ids[row] == sources) & (ids[col] == targets) & (ranks >= 1) & (ranks <= k)
    row, col, rank = row[keep], col[keep], ranks[keep] - 1
    neighbours[row, rank] = col
    out[row, rank] = scores[keep]
    return neighbours, out
