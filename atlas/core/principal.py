"""The principal plane of an embedding table: every row projected on its two directions of most variance (PCA).

The article draws its TF-IDF vectors this way, and a reader compares any embedding with that
picture, so every load stores each token's place on this plane beside the UMAP map
(``atlas map --layout pca``). Unlike the UMAP map, which is drawn from the neighbour lists,
the plane is drawn from the vectors themselves, as the model gives them (not normalised): a
TF-IDF word that occurs in every chunk has the zero vector and sits where the origin falls.

The covariance is summed block by block (``BLOCK_ROWS`` rows at a time, in float32, into a
float64 d x d sum), so memory stays at one block and one d x d matrix; its two leading
eigenvectors are the axes. It is exact PCA, not a randomised estimate: n d^2 multiply-adds,
a moment for MiniLM and seconds for a 151,936 x 1536 matrix, beside minutes of neighbours.
"""

from __future__ import annotations

import numpy as np

BLOCK_ROWS = 8192  # rows per block of the covariance sum: 48 MB of float32 at d = 1536


def principal_plane(matrix: np.ndarray, block_rows: int = BLOCK_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """``(positions (n, 2) float32, shares (2,) float64)``: each row on the two principal axes, and the share of the
    total variance each axis explains.

    Rows are centred on their mean and projected on the covariance's two leading
    eigenvectors. PCA leaves each axis's sign free: it is turned so that the axis's entry
    of largest magnitude is positive, as scikit-learn's ``svd_flip`` does, so the same
    matrix gives the same picture everywhere. Positions are then centred and scaled as the
    UMAP map's are (the larger side spans 100), so the two maps share the page's scale.
    A matrix whose rows are all equal has no direction of variance: every row sits at the
    centre and both shares are 0.

    >>> xy, shares = principal_plane(np.array([[0, 0], [2, 0], [4, 1], [6, 1]], np.float32))
    >>> xy.astype(float).round(1).tolist(), shares.round(3).tolist()
    ([[-50.0, 1.7], [-17.8, -4.8], [17.8, 4.8], [50.0, -1.7]], [0.991, 0.009])
    """
    x = np.asarray(matrix, dtype=np.float32)  # (n, d)
    n, d = x.shape
    xy = np.zeros((n, 2), dtype=np.float32)
    if n == 0:
        return xy, np.zeros(2)
    import torch  # its float32 products are about 2.5x numpy's OpenBLAS ones here

    mean = x.sum(axis=0, dtype=np.float64) / n  # (d,)
    centre = torch.from_numpy(mean.astype(np.float32))
    rows = torch.from_numpy(x)
    cov = torch.zeros((d, d), dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, n, block_rows):
            block = rows[start : start + block_rows] - centre  # (b, d)
            cov += (block.T @ block).double()
    values, vectors = np.linalg.eigh(cov.numpy() / n)  # ascending
    total = float(values.clip(min=0).sum())
    if total <= 0:
        return xy, np.zeros(2)
    axes = vectors[:, ::-1][:, :2]  # (d, <=2) the leading eigenvectors
    shares = np.zeros(2)
    shares[: axes.shape[1]] = values[::-1][: axes.shape[1]].clip(min=0) / total
    largest = np.abs(axes).argmax(axis=0)
    axes = axes * np.sign(axes[largest, np.arange(axes.shape[1])])
    plane = torch.from_numpy(np.ascontiguousarray(axes, dtype=np.float32))  # (d, <=2)
    with torch.no_grad():
        for start in range(0, n, block_rows):
            block = rows[start : start + block_rows] - centre
            xy[start : start + block_rows, : axes.shape[1]] = (block @ plane).numpy()
    low, high = xy.min(axis=0).astype(np.float64), xy.max(axis=0).astype(np.float64)
    scale = 100.0 / max(float((high - low).max()), 1e-12)
    return ((xy - (low + high) / 2) * scale).astype(np.float32), shares
