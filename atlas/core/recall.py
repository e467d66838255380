"""Recall of approximate nearest neighbours (Neo4j's vector index) against the exact ones (the stored graph). Pure.

>>> exact = np.array([[1, 2, 3], [0, 2, -1]])       # token 1's exact neighbours are 0 and 2 only
>>> found = np.array([[1, 3, 9], [2, 7, 0]])
>>> recall_at_k(exact, found, 2).tolist()          # row 0: {1, 2} vs {1, 3}; row 1: {0, 2} vs {2, 7}
[0.5, 0.5]
"""

from __future__ import annotations

import numpy as np


def recall_at_k(exact: np.ndarray, approximate: np.ndarray, k: int) -> np.ndarray:
    """Per query, the share of its exact k nearest found among the first k approximate answers: (N,) float64.

    ``exact`` (N, >= k) and ``approximate`` (N, any) are ids best first, padded with -1.
    A query with fewer than k exact neighbours is judged on those it has; one with none
    gets NaN. Ids are compared as sets, so ties in the exact order do not count against
    the approximate one unless a tied neighbour falls past rank k.
    """
    exact = np.asarray(exact)[:, :k]  # (N, k)
    found = np.asarray(approximate)[:, :k]  # (N, <= k)
    valid = exact >= 0  # (N, k)
    hit = (exact[:, :, None] == found[:, None, :]).any(axis=2) & valid  # (N, k)
    counts = valid.sum(axis=1)  # (N,)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hit.sum(axis=1) / counts, np.nan)


def without_self(found: np.ndarray, own: np.ndarray) -> np.ndarray:
    """Each row of ``found`` (N, m) without its first occurrence of the query's own id ``own`` (N,): (N, m - 1).

    A row that does not hold its own id (an approximate index can miss it) loses its
    last answer instead.

    >>> without_self(np.array([[5, 1, 2], [3, 4, 5], [6, 7, 8]]), np.array([5, 5, 0])).tolist()
    [[1, 2], [3, 4], [6, 7]]
    """
    found = np.asarray(found)
    n, m = found.shape
    first = np.where(found == np.asarray(own)[:, None], np.arange(m), m - 1).min(axis=1)  # (N,) column to drop
    keep = np.arange(m)[None, :] != first[:, None]  # (N, m)
    return found[keep].reshape(n, m - 1)
