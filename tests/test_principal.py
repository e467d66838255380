"""The principal plane against scikit-learn's PCA."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from atlas.core.principal import principal_plane


def scaled(xy: np.ndarray) -> np.ndarray:
    """Centred and scaled as the maps are: the larger side spans 100."""
    low, high = xy.min(axis=0), xy.max(axis=0)
    return (xy - (low + high) / 2) * 100 / (high - low).max()


@pytest.mark.parametrize("rows, dim, block", [(3000, 40, 512), (500, 10, 10_000), (257, 1536, 100)])
def test_the_plane_is_scikit_learns_pca(rows, dim, block):
    rng = np.random.default_rng(rows)
    x = (rng.normal(size=(rows, dim)) * np.linspace(4, 0.1, dim) + rng.normal(size=dim) * 3).astype(np.float32)
    xy, shares = principal_plane(x, block_rows=block)
    reference = PCA(n_components=2, svd_solver="full").fit(x.astype(np.float64))
    np.testing.assert_allclose(xy, scaled(reference.transform(x.astype(np.float64))), atol=2e-3)
    np.testing.assert_allclose(shares, reference.explained_variance_ratio_, rtol=1e-4)


def test_the_same_rows_in_another_order_get_the_same_places():
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(800, 12)) * np.linspace(3, 0.5, 12)).astype(np.float32)
    order = rng.permutation(len(x))
    xy, _ = principal_plane(x)
    shuffled, _ = principal_plane(x[order])
    np.testing.assert_allclose(shuffled, xy[order], atol=1e-3)  # the sign of each axis is fixed, not left to chance


def test_zero_rows_sit_where_the_origin_falls_and_equal_rows_at_the_centre():
    x = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [3, 1, 0], [0, 0, 0]], np.float32)
    xy, _ = principal_plane(x)
    assert xy[0].tolist() == xy[4].tolist()
    same, shares = principal_plane(np.ones((6, 4), np.float32))
    assert not same.any() and not shares.any()
