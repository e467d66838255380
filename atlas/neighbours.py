"""Exact top-k cosine neighbours of every row of an embedding matrix, computed in row blocks.

The full V x V similarity matrix is never built. Rows are L2-normalised, then for each
block of ``B`` rows the scores ``E_block @ E.T`` (B, V) are computed and reduced to the
``k`` best columns per row. Self-matches are excluded; rows of zero norm have no
direction, so they neither get neighbours nor appear as anyone's neighbour. Ties are
broken deterministically: higher score first, then lower id.

Peak memory of the float32 path, besides the caller's own matrix (bytes)::

    8 * V * d            normalised rows and their contiguous transpose
  + 4 * B * V * 1.04     one block of scores plus its per-chunk maxima

For MiniLM (V=30,522, d=384) with B=1024 that is about 94 MB + 130 MB; for a
151,936 x 1,536 matrix about 1.9 GB + 0.65 GB. ``block_rows_for_memory`` picks B
for a byte budget.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from .errors import InvalidArgument

DTYPES = ("float32", "bfloat16")
DEVICES = ("auto", "cpu", "cuda")
CHUNK = 32  # columns per chunk in the chunk-maximum pre-selection
RESCORE_FACTOR = 2  # bfloat16 keeps k * RESCORE_FACTOR + 8 candidates before the exact re-score


@dataclass(frozen=True)
class NeighbourBlock:
    """The neighbours of rows ``start .. start + len(ids) - 1``.

    ``ids`` (B, k) int64 and ``scores`` (B, k) float32, best first; a row with fewer
    than k neighbours (zero-norm row, or fewer valid rows than k) is padded with id -1
    and score NaN.
    """

    start: int
    ids: np.ndarray
    scores: np.ndarray


def normalise(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L2-normalise rows. Returns ``(unit rows (V, d) float32, valid (V,) bool)``.

    >>> u, ok = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    >>> u.tolist(), ok.tolist()
    ([[0.6000000238418579, 0.800000011920929], [0.0, 0.0]], [True, False])
    """
    e = np.asarray(matrix, dtype=np.float32)
    if e.ndim != 2 or e.shape[0] == 0 or e.shape[1] == 0:
        raise InvalidArgument(f"the embedding matrix must be 2-D and non-empty, got shape {e.shape}")
    if not np.isfinite(e).all():
        raise InvalidArgument("the embedding matrix contains NaN or infinite values; clean the source first")
    norms = np.linalg.norm(e, axis=1)  # (V,)
    valid = norms > 0
    unit = np.zeros_like(e)
    np.divide(e, norms[:, None], out=unit, where=valid[:, None])
    return unit, valid


def duplicate_columns(unit: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows that repeat an earlier row exactly: ``(duplicate ids, id of the first copy)``.

    A matrix product may round the same dot product differently in different columns;
    copying each duplicate's score from its first copy keeps their ties exact.

    >>> duplicate_columns(np.array([[1.0, 0], [0, 1], [1, 0]], np.float32), np.ones(3, bool))
    (array([2]), array([0]))
    """
    rows = np.ascontiguousarray(unit).view(np.dtype((np.void, unit.shape[1] * unit.itemsize))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    rep = first[inverse.ravel()]  # (V,) id of each row's first copy
    dup = np.flatnonzero((rep != np.arange(len(rep))) & valid)
    return dup, rep[dup]


def check_k(k: int, vocab_size: int) -> None:
    """Reject a k the vocabulary cannot give: 1 <= k < vocab_size."""
    if k <= 0 or k >= vocab_size:
        raise InvalidArgument(f"k must be between 1 and {vocab_size - 1} (vocabulary size - 1), got {k}")


def peak_bytes(vocab_size: int, dim: int, block_rows: int) -> int:
    """Peak working memory of the float32 path in bytes (see the module docstring)."""
    padded = -(-vocab_size // CHUNK) * CHUNK
    return 8 * vocab_size * dim + 4 * block_rows * padded + 4 * block_rows * (padded // CHUNK)


def block_rows_for_memory(vocab_size: int, dim: int, max_bytes: int) -> int:
    """The largest block (rows, at most 4096) whose peak memory stays within ``max_bytes``."""
    fixed = peak_bytes(vocab_size, dim, 0)
    per_row = peak_bytes(vocab_size, dim, 1) - fixed
    rows = (max_bytes - fixed) // per_row
    if rows < 1:
        need = (fixed + per_row) / 2**20
        raise InvalidArgument(
            f"a memory limit of {max_bytes / 2**20:.0f} MiB is too small for a {vocab_size} x {dim} matrix; "
            f"it needs at least {need:.0f} MiB"
        )
    return int(min(rows, 4096))


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is usable, else ``cpu``."""
    if device not in DEVICES:
        raise InvalidArgument(f"device must be one of {', '.join(DEVICES)}, got {device!r}")
    if device == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise InvalidArgument("device 'cuda' was asked for but torch sees no CUDA GPU; use --device cpu")
    return "cpu"


def order_candidates(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Pick the k best of each row's candidates: score descending, then id ascending.

    ``ids``/``scores`` are (B, C) with C >= k; -inf scores are never picked (padded with
    -1 / NaN instead).

    >>> order_candidates(np.array([[5, 2, 9]]), np.array([[0.5, 0.9, 0.5]]), 2)
    (array([[2, 5]]), array([[0.9, 0.5]]))
    """
    by_id = np.argsort(ids, axis=1, kind="stable")
    ids = np.take_along_axis(ids, by_id, axis=1)
    scores = np.take_along_axis(scores, by_id, axis=1)
    by_score = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    ids = np.take_along_axis(ids, by_score, axis=1)
    scores = np.take_along_axis(scores, by_score, axis=1)
    missing = ~np.isfinite(scores)
    if missing.any():
        ids = np.where(missing, -1, ids)
        scores = np.where(missing, np.nan, scores)
    return ids, scores


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k per row of a (B, Vp) float32 block whose width is a multiple of CHUNK.

    Columns are split into n = Vp / CHUNK groups (group g holds columns g, g + n, g + 2n,
    ...). The k largest group maxima bound a row's k-th best score from below, so its
    top k lie inside those k groups; only rows whose group maxima tie at that bound are
    solved on the full row.
    """
    b, vp = scores.shape
    n = vp // CHUNK
    grouped = scores.reshape(b, CHUNK, n)  # group g is grouped[:, :, g]
    group_max = grouped.max(axis=1)  # (B, n)
    kk = min(k, n)
    best = np.argpartition(-group_max, kk - 1, axis=1)[:, :kk]  # (B, kk)
    bound = np.take_along_axis(group_max, best, axis=1).min(axis=1)  # (B,)
    rows = np.arange(b)[:, None]
    cand = grouped[rows, :, best].reshape(b, kk * CHUNK)  # (B, kk*CHUNK)
    cand_ids = (best[:, :, None] + n * np.arange(CHUNK)).reshape(b, kk * CHUNK)
    ids, top = _top_k_of_candidates(cand_ids, cand, k)
    tied = ((group_max >= bound[:, None]).sum(axis=1) > kk) | (kk < k)
    for r in np.flatnonzero(tied & np.isfinite(bound)):
        ids[r], top[r] = _top_k_full_row(scores[r], k)
    return ids, top


def _top_k_of_candidates(ids: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``order_candidates`` for wide candidate sets: partition first, sort only k per row."""
    if scores.shape[1] <= k:
        return order_candidates(ids, scores, k)
    pick = np.argpartition(-scores, k - 1, axis=1)[:, :k]  # (B, k)
    top = np.take_along_axis(scores, pick, axis=1)
    kth = top.min(axis=1)
    tied = ((scores >= kth[:, None]).sum(axis=1) > k) & np.isfinite(kth)
    out_ids, out_top = order_candidates(np.take_along_axis(ids, pick, axis=1), top, k)
    if tied.any():  # equal scores straddle the k-th place: order all candidates of those rows
        out_ids[tied], out_top[tied] = order_candidates(ids[tied], scores[tied], k)
    return out_ids, out_top


def _top_k_full_row(row: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-k of one row by a full sort (the rare tie path)."""
    order = np.lexsort((np.arange(row.shape[0]), -row))[:k]
    ids, top = order_candidates(order[None, :], row[order][None, :], k)
    return ids[0], top[0]


def iter_neighbours(
    matrix: np.ndarray,
    k: int,
    *,
    block_rows: int = 1024,
    device: str = "cpu",
    dtype: str = "float32",
    progress: Callable[[int], None] | None = None,
) -> Iterator[NeighbourBlock]:
    """Yield the exact top-k cosine neighbours of every row, one block of rows at a time.

    ``progress(n)`` is called with the number of rows just finished.
    """
    if dtype not in DTYPES:
        raise InvalidArgument(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    if block_rows < 1:
        raise InvalidArgument(f"block rows must be at least 1, got {block_rows}")
    unit, valid = normalise(matrix)  # (V, d), (V,)
    v, d = unit.shape
    check_k(k, v)
    device = resolve_device(device)
    if device == "cpu" and dtype == "float32":
        blocks = _blocks_numpy(unit, valid, k, block_rows)
    else:
        blocks = _blocks_torch(unit, valid, k, block_rows, device, dtype)
    for block in blocks:
        yield block
        if progress is not None:
            progress(block.ids.shape[0])


def _blocks_numpy(unit: np.ndarray, valid: np.ndarray, k: int, block_rows: int) -> Iterator[NeighbourBlock]:
    v, d = unit.shape
    vp = -(-v // CHUNK) * CHUNK
    right = np.zeros((d, vp), dtype=np.float32)  # (d, Vp) contiguous transpose, zero-padded
    right[:, :v] = unit.T
    dead = np.concatenate([np.flatnonzero(~valid), np.arange(v, vp)])  # columns never picked
    dup, rep = duplicate_columns(unit, valid)
    for start in range(0, v, block_rows):
        stop = min(start + block_rows, v)
        scores = unit[start:stop] @ right  # (B, Vp) float32
        scores[:, dup] = scores[:, rep]
        scores[:, dead] = -np.inf
        scores[np.arange(stop - start), np.arange(start, stop)] = -np.inf  # self
        ids, top = top_k_rows(scores, k)
        ids[~valid[start:stop]] = -1
        top[~valid[start:stop]] = np.nan
        yield NeighbourBlock(start, ids, top.astype(np.float32))


def _blocks_torch(
    unit: np.ndarray, valid: np.ndarray, k: int, block_rows: int, device: str, dtype: str
) -> Iterator[NeighbourBlock]:
    """GPU (float32 or bfloat16) and CPU bfloat16 path.

    bfloat16 picks ``k * RESCORE_FACTOR + 8`` candidates per row from low-precision
    scores, then re-scores them exactly in float32 and keeps the best k.
    """
    import torch

    with torch.no_grad():
        v, d = unit.shape
        exact = torch.from_numpy(unit).to(device)  # (V, d) float32
        low = exact if dtype == "float32" else exact.to(torch.bfloat16)
        right = low.T.contiguous()  # (d, V)
        dead = torch.from_numpy(np.flatnonzero(~valid)).to(device)
        dup, rep = (torch.from_numpy(a).to(device) for a in duplicate_columns(unit, valid))
        cand = min(v, k + 1 if dtype == "float32" else k * RESCORE_FACTOR + 8)
        if device == "cuda" and dtype == "float32":
            torch.backends.cuda.matmul.allow_tf32 = False
        for start in range(0, v, block_rows):
            stop = min(start + block_rows, v)
            scores = (low[start:stop] @ right).float()  # (B, V)
            scores[:, dup] = scores[:, rep]
            scores[:, dead] = -torch.inf
            rows = torch.arange(stop - start, device=device)
            scores[rows, rows + start] = -torch.inf
            cand_scores, cand_ids = torch.topk(scores, cand, dim=1)  # (B, cand)
            if dtype != "float32":
                picked = exact[cand_ids]  # (B, cand, d)
                rescored = torch.einsum("bcd,bd->bc", picked, exact[start:stop])
                cand_scores = torch.where(torch.isfinite(cand_scores), rescored, cand_scores)
            ids, top = order_candidates(cand_ids.cpu().numpy(), cand_scores.cpu().numpy(), k)
            if dtype == "float32":
                # a tie across the candidate boundary: solve that row on the full row
                bound = cand_scores[:, k - 1] if cand > k else torch.full((stop - start,), -torch.inf, device=device)
                tied = (scores >= bound[:, None]).sum(dim=1) > k
                for r in torch.nonzero(tied & torch.isfinite(bound)).flatten().tolist():
                    ids[r], top[r] = _top_k_full_row(scores[r].cpu().numpy(), k)
            ids[~valid[start:stop]] = -1
            top[~valid[start:stop]] = np.nan
            yield NeighbourBlock(start, ids, top.astype(np.float32))


def all_neighbours(matrix: np.ndarray, k: int, **options) -> tuple[np.ndarray, np.ndarray]:
    """All rows at once: ``(ids (V, k) int64, scores (V, k) float32)``. For small matrices and tests."""
    blocks = list(iter_neighbours(matrix, k, **options))
    return np.concatenate([b.ids for b in blocks]), np.concatenate([b.scores for b in blocks])
