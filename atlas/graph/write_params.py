"""Pure builders of the parameter rows the write statements take."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TypeVar

import numpy as np

from atlas.core.variants import group_rows

T = TypeVar("T")


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Lists of at most ``size`` items, in order.

    >>> list(batched(range(5), 2))
    [[0, 1], [2, 3], [4]]
    """
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def token_rows(
    ids: np.ndarray,
    text: list[str],
    raw: list[str],
    special: list[bool],
    counts: np.ndarray | None = None,
    plane: np.ndarray | None = None,
) -> list[dict]:
    """One row per token: ``{id, text, raw, special}``, ``count`` (a corpus word's count) when ``counts`` is given,
    and ``pca_x``, ``pca_y`` (its place on the principal plane, (n, 2)) when ``plane`` is given.

    >>> token_rows(np.array([7]), ["a"], ["a"], [False], plane=np.array([[1.5, -2.0]], np.float32))
    [{'id': 7, 'text': 'a', 'raw': 'a', 'special': False, 'pca_x': 1.5, 'pca_y': -2.0}]
    """
    rows = [
        {"id": int(i), "text": t, "raw": r, "special": bool(s)} for i, t, r, s in zip(ids.tolist(), text, raw, special)
    ]
    if counts is not None:
        for row, n in zip(rows, counts.tolist()):
            row["count"] = int(n)
    if plane is not None:
        for row, (x, y) in zip(rows, plane.tolist()):
            row["pca_x"], row["pca_y"] = x, y
    return rows


def variant_rows(ids: np.ndarray, raw: list[str], special: list[bool], family: str) -> list[dict]:
    """One row per token that has a variant key: ``{id, key}`` (token ids, not row numbers)."""
    return [{"id": int(ids[row]), "key": key} for row, key in group_rows(raw, special, family)]


def edge_params(
    start: int, neighbour_ids: np.ndarray, scores: np.ndarray, nodes: np.ndarray, mutual: np.ndarray
) -> dict:
    """One batch of edges as parallel lists: ``{src, tgt, sc, mu}``, each source's targets best first.

    ``neighbour_ids`` (B, k) are row numbers of the table (-1 for none) for rows
    ``start .. start + B - 1``; ``nodes`` maps row numbers to the internal node ids the
    token write returned; ``mutual`` (B, k) says which edges exist both ways. Rows
    without neighbours are left out.

    >>> edge_params(0, np.array([[1, -1], [-1, -1]]), np.array([[0.5, np.nan], [np.nan, np.nan]], np.float32),
    ...             np.array([10, 11]), np.array([[True, False], [False, False]]))
    {'src': [10], 'tgt': [[11]], 'sc': [[0.5]], 'mu': [[True]]}
    """
    params: dict[str, list] = {"src": [], "tgt": [], "sc": [], "mu": []}
    for source, targets, row_scores, both in zip(
        nodes[start : start + len(neighbour_ids)].tolist(), neighbour_ids, scores, mutual
    ):
        keep = targets >= 0
        if keep.any():
            params["src"].append(source)
            params["tgt"].append(nodes[targets[keep]].tolist())
            params["sc"].append(row_scores[keep].astype(float).tolist())
            params["mu"].append(both[keep].tolist())
    return params


def analysis_token_rows(ids: np.ndarray, result) -> list[dict]:
    """One row per token of an :class:`atlas.core.analysis.Analysis`: ``{id, cited, community, x, y}``, None where none,
    with ``out_degree``, ``pagerank``, ``core`` and ``clustering`` when the analysis has its measures.

    >>> from atlas.core.analysis import Analysis
    >>> r = Analysis(np.array([2, 0]), np.zeros((2, 1), bool), np.array([0, -1]), np.array([[1.5, 2.0], [np.nan, np.nan]]), [], np.zeros((0, 4)), 0.0)
    >>> analysis_token_rows(np.array([7, 9]), r)
    [{'id': 7, 'cited': 2, 'community': 0, 'x': 1.5, 'y': 2.0}, {'id': 9, 'cited': 0, 'community': None, 'x': None, 'y': None}]
    """
    rows = []
    for token, cited, community, (x, y) in zip(
        ids.tolist(), result.cited.tolist(), result.community.tolist(), result.xy.tolist()
    ):
        placed = x == x and y == y  # not NaN
        rows.append(
            {
                "id": token,
                "cited": cited,
                "community": community if community >= 0 else None,
                "x": x if placed else None,
                "y": y if placed else None,
            }
        )
    found = result.measures
    if found is not None:
        columns = zip(
            found.out_degree.tolist(), found.pagerank.tolist(), found.core.tolist(), found.clustering.tolist()
        )
        for row, (out_degree, pagerank, core, clustering) in zip(rows, columns):
            row.update(out_degree=out_degree, pagerank=pagerank, core=core, clustering=clustering)
    return rows
