"""Pure builders of the parameter rows the write statements take."""

from __future__ import annotations

from typing import Iterable, Iterator, TypeVar

import numpy as np

from .variants import group_rows

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


def token_rows(ids: np.ndarray, text: list[str], raw: list[str], special: list[bool]) -> list[dict]:
    """One row per token: ``{id, text, raw, special}``."""
    return [
        {"id": int(i), "text": t, "raw": r, "special": bool(s)}
        for i, t, r, s in zip(ids.tolist(), text, raw, special)
    ]


def variant_rows(ids: np.ndarray, raw: list[str], special: list[bool], family: str) -> list[dict]:
    """One row per token that has a variant key: ``{id, key}`` (token ids, not row numbers)."""
    return [{"id": int(ids[row]), "key": key} for row, key in group_rows(raw, special, family)]


def edge_rows(start: int, neighbour_ids: np.ndarray, scores: np.ndarray, ids: np.ndarray, mutual: np.ndarray) -> list[dict]:
    """One row per source token: ``{source, targets, scores, mutual}``, best first.

    ``neighbour_ids`` (B, k) are row numbers of the table (-1 for none) for rows
    ``start .. start + B - 1``; ``ids`` maps row numbers to what identifies a token in
    the statement (token ids, or the element ids the token write returned); ``mutual``
    (B, k) says which edges exist both ways.

    >>> edge_rows(0, np.array([[1, -1]]), np.array([[0.5, np.nan]], np.float32), np.array([10, 11]), np.array([[True, False]]))
    [{'source': 10, 'targets': [11], 'scores': [0.5], 'mutual': [True]}]
    """
    sources = ids[start : start + len(neighbour_ids)].tolist()
    rows = []
    for source, targets, row_scores, both in zip(sources, neighbour_ids, scores, mutual):
        keep = targets >= 0
        if keep.any():
            rows.append({
                "source": source,
                "targets": ids[targets[keep]].tolist(),
                "scores": row_scores[keep].astype(float).tolist(),
                "mutual": both[keep].tolist(),
            })
    return rows


def analysis_token_rows(ids: np.ndarray, result) -> list[dict]:
    """One row per token of an :class:`atlas.analysis.Analysis`: ``{id, cited, community, x, y}``, None where none.

    >>> from atlas.analysis import Analysis
    >>> r = Analysis(np.array([2, 0]), np.zeros((2, 1), bool), np.array([0, -1]), np.array([[1.5, 2.0], [np.nan, np.nan]]), [], np.zeros((0, 4)), 0.0)
    >>> analysis_token_rows(np.array([7, 9]), r)
    [{'id': 7, 'cited': 2, 'community': 0, 'x': 1.5, 'y': 2.0}, {'id': 9, 'cited': 0, 'community': None, 'x': None, 'y': None}]
    """
    rows = []
    for token, cited, community, (x, y) in zip(ids.tolist(), result.cited.tolist(), result.community.tolist(), result.xy.tolist()):
        placed = x == x and y == y  # not NaN
        rows.append({
            "id": token,
            "cited": cited,
            "community": community if community >= 0 else None,
            "x": x if placed else None,
            "y": y if placed else None,
        })
    return rows
