"""A stored model's whole graph read back as arrays (for its analysis), and as the whole-vocabulary map.

The analysis of a stored model and the whole-vocabulary map both start here. Tokens come
in id slices (``cypher/graph_read.cypher``), each token with its neighbour lists, so a
151,665-token model with 3 million edges is a few dozen reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from atlas.graph.store import Store

SLICE = 10_000  # token ids per read


@dataclass
class StoredGraph:
    """Row ``i`` is token ``ids[i]`` (ids ascending); ``neighbours`` holds row indices, -1 for none."""

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

    def __len__(self) -> int:
        return len(self.ids)


def read_graph(store: Store, model: str, done: Callable[[int], None] | None = None) -> StoredGraph:
    """Read the complete model ``model`` back; ``done(n)`` is told as each slice of n tokens arrives."""
    props = store.require_model(model)
    k = int(props["k"])
    top = store.read("tokens_top_id", model=model)[0]["top"]
    rows: list[dict] = []
    for start in range(0, -1 if top is None else int(top) + 1, SLICE):
        part = store.read("graph_read", model=model, **{"from": start, "to": start + SLICE})
        rows += part
        if done is not None:
            done(len(part))
    n = len(rows)
    ids = np.array([r["id"] for r in rows], dtype=np.int64)
    neighbour_ids = np.full((n, k), -1, dtype=np.int64)
    scores = np.full((n, k), np.nan, dtype=np.float32)
    for i, r in enumerate(rows):
        m = min(len(r["targets"]), k)
        neighbour_ids[i, :m] = r["targets"][:m]
        scores[i, :m] = r["scores"][:m]
    found = neighbour_ids >= 0
    place = np.searchsorted(ids, neighbour_ids)
    neighbours = np.where(found, np.minimum(place, n - 1), -1).astype(np.int32)
    analysed = props.get("analysis") == "complete"
    return StoredGraph(
        model=model,
        props=props,
        ids=ids,
        text=[r["text"] for r in rows],
        special=[bool(r["special"]) for r in rows],
        keys=[r["key"] for r in rows],
        neighbours=neighbours,
        scores=scores,
        cited=np.array([r["cited"] or 0 for r in rows], dtype=np.int32) if analysed else None,
        community=np.array([-1 if r["community"] is None else r["community"] for r in rows], dtype=np.int32)
        if analysed
        else None,
        xy=np.array(
            [[np.nan if r["x"] is None else r["x"], np.nan if r["y"] is None else r["y"]] for r in rows],
            dtype=np.float32,
        ).reshape(n, 2)
        if analysed
        else None,
    )
