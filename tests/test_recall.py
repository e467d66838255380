"""Recall@k of approximate neighbours, against a brute-force count on small seeded matrices."""

from __future__ import annotations

import numpy as np
import pytest

from atlas.core.recall import recall_at_k, without_self
from atlas.core.topk import all_neighbours


def brute_force_top(matrix: np.ndarray, k: int) -> list[list[int]]:
    """Each row's k nearest other rows by a full sort of float64 cosines (zero rows: none, and never a neighbour)."""
    m = matrix.astype(np.float64)
    norms = np.linalg.norm(m, axis=1)
    unit = np.divide(m, norms[:, None], out=np.zeros_like(m), where=norms[:, None] > 0)
    scores = unit @ unit.T
    out = []
    for i in range(len(m)):
        if norms[i] == 0:
            out.append([])
            continue
        order = [int(j) for j in np.lexsort((np.arange(len(m)), -scores[i])) if j != i and norms[j] > 0]
        out.append(order[:k])
    return out


def brute_force_recall(exact: list[list[int]], found: list[list[int]], k: int) -> list[float]:
    result = []
    for truth, answer in zip(exact, found):
        truth = truth[:k]
        result.append(len(set(truth) & set(answer[:k])) / len(truth) if truth else float("nan"))
    return result


def padded(lists: list[list[int]], width: int) -> np.ndarray:
    return np.array([row[:width] + [-1] * (width - len(row[:width])) for row in lists], dtype=np.int64)


@pytest.mark.parametrize("rows, dim, k", [(60, 4, 5), (200, 8, 10), (300, 3, 20)])
@pytest.mark.parametrize("seed", [0, 1])
def test_recall_of_noisy_neighbours_matches_brute_force(rows, dim, k, seed):
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((rows, dim)).astype(np.float32)
    matrix[rng.choice(rows, 3, replace=False)] = 0.0  # zero rows: no exact neighbours, NaN recall
    noisy = matrix + rng.normal(0, 0.3, matrix.shape).astype(np.float32) * (np.abs(matrix).sum(1, keepdims=True) > 0)

    exact_ids, _ = all_neighbours(matrix, k)  # (rows, k), -1 padded
    assert [[int(i) for i in row if i >= 0] for row in exact_ids] == brute_force_top(matrix, k)
    approximate = brute_force_top(noisy, k + 5)  # answers of an approximate method, longer than k

    got = recall_at_k(exact_ids, padded(approximate, k + 5), k)
    want = brute_force_recall(brute_force_top(matrix, k), approximate, k)
    np.testing.assert_allclose(got, want, equal_nan=True)
    assert np.isnan(got).sum() == 3
    assert 0 < np.nanmean(got) < 1


def test_perfect_and_empty_answers():
    exact = np.array([[1, 2, 3], [0, 3, 2]])
    assert recall_at_k(exact, exact[:, ::-1], 3).tolist() == [1.0, 1.0]  # order within k does not matter
    assert recall_at_k(exact, np.full((2, 3), -1), 3).tolist() == [0.0, 0.0]
    assert recall_at_k(exact, exact, 1).tolist() == [1.0, 1.0]
    assert recall_at_k(exact, np.array([[2, 1, 3], [3, 0, 2]]), 1).tolist() == [0.0, 0.0]


def test_without_self_matches_a_loop():
    rng = np.random.default_rng(3)
    found = rng.integers(0, 8, (50, 6))
    own = rng.integers(0, 8, 50)
    want = []
    for row, me in zip(found.tolist(), own.tolist()):
        row = list(row)
        row.pop(row.index(me) if me in row else len(row) - 1)
        want.append(row)
    assert without_self(found, own).tolist() == want
