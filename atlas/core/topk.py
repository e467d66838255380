"""Exact top-k cosine neighbours of every row of an embedding matrix, computed in row blocks.

The full V x V similarity matrix is never built. Rows are L2-normalised; rows of zero norm
have no direction, so they neither get neighbours nor appear as anyone's neighbour, and
rows that repeat an earlier row exactly are set aside and given their first copy's
neighbours (so copies tie exactly). Self-matches are excluded. Ties are broken
deterministically: higher score first, then lower id.

The similarity matrix is symmetric, so only its lower half is multiplied out, in strips
of ``B`` columns cut into slabs that worker threads multiply and sift while the slab is in
cache (see ``_distinct_top_k``). For MiniLM (k=20) on two cores this takes about 2.8 s,
against about 4.1 s for faiss's exact ``IndexFlatIP`` search (``bench/bench_neighbours.py``).

Memory of the float32 path, besides the caller's own matrix, is bounded by (bytes)::

    8 * V * d              normalised rows and their contiguous transpose
  + 12 * V * k             every row's best k so far (float32 scores, int64 ids)
  + 20 * V * B             one strip's candidates for the rows of its block
  + 80 * (W + 1) * 2**20   slabs of 2**20 scores being sifted by W threads, and their candidates

The last two terms count every score as a candidate; real data keeps a few dozen per row,
so they stay at tens of MB: MiniLM (V=30,522, d=384, k=20) peaks about 160 MB above its
input matrix, a 151,936 x 1,536 matrix needs about 2 GB. ``block_rows_for_memory`` picks
B for a byte budget under the bound. The bfloat16 path holds bfloat16 copies (4 * V * d)
instead of the float32 transpose, and 12 * V * (k + k // 4 + 4) more for its candidates.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from atlas.core.arguments import choice, integer
from atlas.core.load_options import DEVICES, DTYPE_CHOICES, DTYPES
from atlas.errors import InvalidArgument

MISSES = "a neighbour whose bfloat16 score falls below the candidates is missed (MiniLM: 0.27 % of them)"
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")  # CPU instructions that make torch's bfloat16 products fast
WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1  # slab threads
FLOOR_ROWS = 512  # rows per window of the lower-bound pass
SLAB_ENTRIES = 2**20  # strip entries per sifting task
RESCORE_FACTOR = 2  # on GPU, bfloat16 keeps k * RESCORE_FACTOR + 8 candidates before the exact re-score


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
    check_matrix(e)
    norms = np.linalg.norm(e, axis=1)  # (V,)
    valid = norms > 0
    unit = np.zeros_like(e)
    np.divide(e, norms[:, None], out=unit, where=valid[:, None])
    return unit, valid


def duplicate_columns(unit: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows that repeat an earlier row bit for bit: ``(duplicate ids, id of the first copy)``.

    A matrix product may round the same dot product differently in different columns, so
    copies are given their first copy's scores: their ties stay exact. Rows are grouped by
    a 64-bit hash of their bits (a few MB at a time), and every copy is checked against its
    group's first row.

    >>> duplicate_columns(np.array([[1.0, 0], [0, 1], [1, 0]], np.float32), np.ones(3, bool))
    (array([2]), array([0]))
    """
    bits = np.ascontiguousarray(unit, dtype=np.float32).view(np.uint32)  # (V, d)
    v, d = bits.shape
    digest = _row_digests(bits)
    order = np.argsort(digest, kind="stable")  # equal digests together, lower id first
    same = digest[order][1:] == digest[order][:-1]
    first = order[np.maximum.accumulate(np.where(np.r_[True, ~same], np.arange(v), 0))]  # (V,) by sorted place
    rep = np.empty(v, np.int64)
    rep[order] = first
    dup = np.flatnonzero((rep != np.arange(v)) & valid)
    if not (bits[dup] == bits[rep[dup]]).all():  # two different rows share a digest: compare whole rows
        rows = bits.view(np.dtype((np.void, d * 4))).ravel()
        _, first_id, inverse = np.unique(rows, return_index=True, return_inverse=True)
        rep = first_id[inverse.ravel()]
        dup = np.flatnonzero((rep != np.arange(v)) & valid)
    return dup, rep[dup]


def _row_digests(bits: np.ndarray) -> np.ndarray:
    """(V,) uint64 hash of each row of a (V, d) uint32 array, 2**20 entries at a time."""
    v, d = bits.shape
    mix = np.random.default_rng(0).integers(1, 2**63, size=d, dtype=np.uint64) | np.uint64(1)  # odd multipliers
    digest = np.empty(v, np.uint64)
    step = max(1, 2**20 // max(d, 1))
    for start in range(0, v, step):
        digest[start : start + step] = (bits[start : start + step].astype(np.uint64) * mix).sum(axis=1)  # mod 2**64
    return digest


def check_k(k: int, vocab_size: int) -> None:
    """Reject a k the vocabulary cannot give: 1 <= k < vocab_size."""
    if k <= 0 or k >= vocab_size:
        raise InvalidArgument(f"k must be between 1 and {vocab_size - 1} (vocabulary size - 1), got {k}")


def check_matrix(matrix: np.ndarray) -> None:
    """Reject a matrix that has no rows or columns, or holds NaN or infinite values."""
    if matrix.ndim != 2 or matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise InvalidArgument(f"the embedding matrix must be 2-D and non-empty, got shape {matrix.shape}")
    if not np.isfinite(matrix).all():
        raise InvalidArgument("the embedding matrix contains NaN or infinite values; clean the source first")


def check_settings(block_rows: int, dtype: str) -> None:
    """Reject a block size or dtype :func:`iter_neighbours` cannot use."""
    choice(dtype, "dtype", DTYPES)
    integer(block_rows, "block_rows", 1)


def peak_bytes(vocab_size: int, dim: int, block_rows: int, k: int = 20) -> int:
    """Upper bound on the float32 path's working memory in bytes (see the module docstring)."""
    return 8 * vocab_size * dim + 12 * vocab_size * k + 20 * vocab_size * block_rows + 80 * (WORKERS + 1) * SLAB_ENTRIES


def block_rows_for_memory(vocab_size: int, dim: int, max_bytes: int, k: int = 20) -> int:
    """The largest block (rows, at most 4096) whose peak memory stays within ``max_bytes``."""
    fixed = peak_bytes(vocab_size, dim, 0, k)
    per_row = peak_bytes(vocab_size, dim, 1, k) - fixed
    rows = (max_bytes - fixed) // per_row
    if rows < 1:
        need = (fixed + per_row) / 2**20
        raise InvalidArgument(
            f"a memory limit of {max_bytes / 2**20:.0f} MiB is too small for a {vocab_size} x {dim} matrix; "
            f"it needs at least {need:.0f} MiB"
        )
    return int(min(rows, 4096))


def resolve_device(device: str) -> str:
    """Where to compute: ``auto`` becomes ``cuda`` when torch sees a GPU, else ``cpu``; ``cuda`` without one is refused.

    >>> resolve_device("cpu")
    'cpu'
    """
    if choice(device, "device", DEVICES) == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if device == "cuda":
        raise InvalidArgument("device 'cuda' was asked for but torch sees no CUDA GPU; use device cpu or auto")
    return "cpu"


@dataclass(frozen=True)
class DtypeChoice:
    """The dtype a load computes in, and one line saying why; ``overridden``: an explicit bfloat16 became float32."""

    dtype: str
    reason: str
    overridden: bool = False


def cpu_flags() -> frozenset[str]:
    """This CPU's feature flags as Linux lists them in /proc/cpuinfo; empty where there is no such file."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return frozenset(line.partition(":")[2].split())
    except OSError:
        pass
    return frozenset()


def choose_dtype(dtype: str, device: str, flags: frozenset[str] | None = None) -> DtypeChoice:
    """The dtype to compute neighbours in on ``device`` (``cpu`` or ``cuda``), never one slower than float32.

    bfloat16 only pays where the hardware multiplies it natively: a GPU, or a CPU with
    ``amx_bf16`` or ``avx512_bf16`` (``flags``, default :func:`cpu_flags`). Elsewhere torch
    emulates it, and on a 2-core AVX2 CPU MiniLM's neighbours took 19 times float32's time.
    float32, the default of every load, is exact. bfloat16 picks each row's candidates at low
    precision and re-scores them in float32, so a true neighbour whose bfloat16 score fell
    below the candidates is missed (on a CPU with AMX, 0.27 % of MiniLM's neighbours).
    ``auto`` picks bfloat16 where it pays, else float32; an explicit ``bfloat16`` where it
    would be slower computes in float32 (exact) and says so.

    >>> choose_dtype("auto", "cpu", frozenset({"avx2"})).dtype
    'float32'
    >>> choose_dtype("auto", "cpu", frozenset({"avx2", "amx_bf16"})).dtype
    'bfloat16'
    """
    choice(dtype, "dtype", DTYPE_CHOICES)
    if device == "cuda":
        fast, where = True, "the GPU multiplies bfloat16 natively"
    else:
        have = sorted(set(BF16_CPU_FLAGS) & (cpu_flags() if flags is None else flags))
        fast = bool(have)
        where = (
            f"this CPU has {' and '.join(have)}"
            if fast
            else f"this CPU has no {' or '.join(BF16_CPU_FLAGS)}, so bfloat16 products are many times slower than float32"
        )
    if dtype == "float32":
        faster = f" ({where}: dtype bfloat16 would be faster, but can miss a neighbour)" if fast else ""
        return DtypeChoice("float32", f"dtype float32: exact{faster}")
    if dtype == "bfloat16" and not fast:
        return DtypeChoice(
            "float32", f"dtype bfloat16 would be slower here ({where}): computing in float32 instead (exact)", True
        )
    if dtype == "bfloat16":
        return DtypeChoice(
            "bfloat16", f"dtype bfloat16 (as asked; {where}): candidates re-scored in float32, not exact: {MISSES}"
        )
    if fast:
        return DtypeChoice(
            "bfloat16", f"dtype auto: bfloat16 candidates re-scored in float32, as {where}; not exact: {MISSES}"
        )
    return DtypeChoice("float32", f"dtype auto: float32 (exact), as {where}")


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
    done: Callable[[int], None] | None = None,
) -> NeighbourBlocks:
    """The top-k cosine neighbours of every row, as an iterable of row blocks in row order.

    Every argument is checked here, at once, so a caller can check before it writes
    anything; the blocks are computed as they are taken. float32 is exact (see the
    module docstring). bfloat16 picks candidates from bfloat16 products and keeps the
    best k by their exact float32 scores: every stored score is an exact cosine and the
    order is exact among the candidates, but a true neighbour whose bfloat16 score fell
    below the candidates can be missed (on MiniLM with k=20, 0.3 % of neighbours).
    ``done(n)`` is called with the number of rows just finished.
    """
    check_settings(block_rows, dtype)
    unit, valid = normalise(matrix)  # (V, d), (V,); checks the matrix
    check_k(k, unit.shape[0])
    device = resolve_device(device)
    if device == "cpu":
        blocks = _blocks_cpu(unit, valid, k, block_rows, dtype)
    else:
        blocks = _blocks_torch(unit, valid, k, block_rows, device, dtype)
    return NeighbourBlocks(blocks, device, done)


class NeighbourBlocks:
    """The blocks :func:`iter_neighbours` computes, in row order; ``device`` says where (``cpu`` or ``cuda``)."""

    def __init__(self, blocks: Iterator[NeighbourBlock], device: str, done: Callable[[int], None] | None):
        self.device = device
        self._blocks = blocks
        self._done = done

    def __iter__(self) -> Iterator[NeighbourBlock]:
        for block in self._blocks:
            yield block
            if self._done is not None:
                self._done(block.ids.shape[0])


def _blocks_cpu(unit: np.ndarray, valid: np.ndarray, k: int, block_rows: int, dtype: str) -> Iterator[NeighbourBlock]:
    """CPU path: top-k among the distinct rows, then copies of a vector get its neighbours.

    Rows that repeat an earlier row exactly are set aside, so every score of a repeated
    vector is one and the same float and its copies tie exactly (lower id first).
    float32 is exact; bfloat16 picks ``k + k // 4 + 4`` candidates per row from bfloat16
    products and keeps the best k by their exact float32 scores (near-exact: on MiniLM
    with k=20 over 99.5% of the float32 neighbours).
    """
    v = unit.shape[0]
    dup, rep = duplicate_columns(unit, valid)
    distinct = valid.copy()
    distinct[dup] = False
    keep = np.flatnonzero(distinct)  # (n,) original id of each distinct row, ascending
    pos = np.full(v, -1)  # (V,) distinct index of each row, -1 for zero rows
    pos[keep] = np.arange(len(keep))
    pos[dup] = pos[rep]
    if len(keep) < v:
        unit = unit[keep]  # (n, d)
    twins = _Twins(unit, pos, keep, k) if dup.size else None
    others = max(0, len(keep) - 1)  # the most neighbours a distinct row can have
    if dtype == "float32":
        found = _distinct_top_k(_Float32Scores(unit), min(k, others), block_rows)
    else:
        candidates = _distinct_top_k(_Bfloat16Scores(unit), min(k + k // 4 + 4, others), block_rows)
        found = _rescored(unit, min(k, others), candidates)
    done = 0
    for stop, ids, scores in found:
        ready = v if stop == len(keep) else int(keep[stop])  # rows before this one are final
        for start in range(done, ready, block_rows):
            rows = np.arange(start, min(start + block_rows, ready))
            yield NeighbourBlock(start, *_rows_result(rows, pos, keep, ids, scores, k, twins))
        done = ready


def _rows_result(rows, pos, keep, ids, scores, k, twins):
    """Original ids and scores (R, k) of ``rows`` from the distinct rows' results."""
    out_ids = np.full((len(rows), k), -1, np.int64)
    out_scores = np.full((len(rows), k), np.nan, np.float32)
    ok = pos[rows] >= 0
    c = pos[rows[ok]]
    found = ids[c] >= 0  # (R', kk)
    got_ids = np.where(found, keep[np.maximum(ids[c], 0)], -1)
    got_scores = np.where(found, scores[c], np.nan)
    if twins is not None:
        got_ids, got_scores = twins.expand(rows[ok], c, ids[c], scores[c], got_ids, got_scores, k)
    out_ids[ok, : got_ids.shape[1]] = got_ids
    out_scores[ok, : got_ids.shape[1]] = got_scores
    return out_ids, out_scores


class _Twins:
    """Rows that share one distinct vector: each lists its copies first, then its neighbours' copies."""

    def __init__(self, unit: np.ndarray, pos: np.ndarray, keep: np.ndarray, k: int):
        rows = np.flatnonzero(pos >= 0)
        c = pos[rows]
        self.size = np.bincount(c, minlength=len(keep))  # (n,) copies of each distinct vector
        width = int(min(k + 1, self.size.max()))
        order = np.argsort(c, kind="stable")  # grouped by vector, ascending ids within a group
        first = np.cumsum(self.size) - self.size
        rank = np.arange(len(rows)) - first[c[order]]
        self.members = np.full((len(keep), width), -1, np.int64)  # (n, w) lowest ids of each group
        fits = rank < width
        self.members[c[order][fits], rank[fits]] = rows[order][fits]
        shared = np.flatnonzero(self.size > 1)
        self.self_score = np.zeros(len(keep), np.float32)
        self.self_score[shared] = np.einsum("ij,ij->i", unit[shared], unit[shared])  # u.u, about 1

    def expand(self, rows, c, ids, scores, got_ids, got_scores, k):
        """Rows whose vector or whose neighbours' vectors have copies get the copies' ids too."""
        hit = (self.size[c] > 1) | ((self.size[np.maximum(ids, 0)] > 1) & (ids >= 0)).any(axis=1)
        if not hit.any():
            return got_ids, got_scores
        r, cr, ir, sr = rows[hit], c[hit], ids[hit], scores[hit]
        their = self.members[np.maximum(ir, 0)]  # (H, kk, w) ids of each neighbour's copies
        their_scores = np.where((their >= 0) & (ir >= 0)[:, :, None], sr[:, :, None], -np.inf)
        own = self.members[cr]  # (H, w) copies of the row's own vector
        own_scores = np.where((own >= 0) & (own != r[:, None]), self.self_score[cr][:, None], -np.inf)
        cand_ids = np.concatenate([their.reshape(len(r), -1), own], axis=1)
        cand_scores = np.concatenate([their_scores.reshape(len(r), -1), own_scores], axis=1).astype(np.float32)
        new_ids, new_scores = order_candidates(cand_ids, cand_scores, k)
        width = max(k, got_ids.shape[1])
        out_ids = np.full((len(rows), width), -1, np.int64)
        out_scores = np.full((len(rows), width), np.nan, np.float32)
        out_ids[:, : got_ids.shape[1]] = got_ids
        out_scores[:, : got_ids.shape[1]] = got_scores
        out_ids[hit, :k] = new_ids
        out_scores[hit, :k] = new_scores
        out_ids[hit, k:] = -1
        out_scores[hit, k:] = np.nan
        return out_ids[:, :k], out_scores[:, :k]


class _Float32Scores:
    """Blocks of the similarity matrix in float32 with numpy's BLAS."""

    def __init__(self, unit: np.ndarray):
        self.rows = unit.shape[0]
        self.unit = unit  # (n, d)
        self.right = np.ascontiguousarray(unit.T)  # (d, n)
        # one dot product computed in two matrix products may round differently, by at most
        # d * 2**-24 each for unit vectors: bounds from one product get more than twice that as slack
        self.slack = 3 * unit.shape[1] * 2.0**-24
        self.blas = _blas_controller()
        self.workers = WORKERS if self.blas is not None else 1

    def __call__(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        return self.unit[r0:r1] @ self.right[:, c0:c1]  # (r1 - r0, c1 - c0)

    def single_threaded(self):
        """Worker threads run their own products, so each BLAS call runs on one thread meanwhile."""
        return self.blas.limit(limits=1, user_api="blas") if self.blas is not None else nullcontext()


class _Bfloat16Scores:
    """Blocks of the similarity matrix from bfloat16 products (torch), read back as float32."""

    slack = 2.0**-8  # one bfloat16 step for cosines in [0.5, 1): candidates need not be exact
    workers = WORKERS

    def __init__(self, unit: np.ndarray):
        import torch

        self.torch = torch
        self.rows = unit.shape[0]
        self.left = torch.from_numpy(unit).to(torch.bfloat16)  # (n, d)
        self.right = self.left.T.contiguous()  # (d, n)

    def __call__(self, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
        return self.torch.mm(self.left[r0:r1], self.right[:, c0:c1]).float().numpy()

    def single_threaded(self):
        return nullcontext()


def _blas_controller():
    """threadpoolctl's handle on the BLAS libraries, or None when it is not installed."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def _distinct_top_k(product, k: int, block_rows: int) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Top-k of every row of a set of n distinct unit rows over all other rows.

    ``product(r0, r1, c0, c1)`` gives the scores ``S[r0:r1, c0:c1]`` (float32). Yields
    ``(stop, ids (n, k), scores (n, k))`` each time rows ``< stop`` are final; ids are row
    indices, best first, -1 (score -inf) where a row has fewer than k others.

    The similarity matrix is symmetric, so only its lower half is computed: strip I holds
    ``S[j, i]`` for the rows i of block I and every j >= start of I. Its columns give the
    rows of block I their candidates among rows j >= start; its rows below the diagonal
    block give each later row j its candidates among block I. Every row keeps its best k
    so far; only scores above its current k-th best (and above a lower bound from its
    neighbourhood) are candidates, so a handful per row and strip is merged. The strip is
    cut into slabs that worker threads multiply and sift while the slab is still in cache.
    """
    n = product.rows
    best_s = np.full((n, k), -np.inf, np.float32)
    best_i = np.full((n, k), -1, np.int64)
    if k == 0:
        yield n, best_i, best_s
        return
    step = min(block_rows, n)
    slab = max(1, SLAB_ENTRIES // step)  # strip rows per task
    with ThreadPoolExecutor(max_workers=product.workers) as pool:
        with product.single_threaded():
            floor = _floors(product, n, k, pool)
        for a in range(0, n, step):
            b = min(a + step, n)
            theta = np.maximum(best_s[a:, k - 1], floor[a:])  # (n - a,) a candidate must beat this
            with product.single_threaded():
                tasks = [
                    pool.submit(_sift, product, t, min(t + slab, n - a), theta, a, b, best_s, best_i)
                    for t in range(0, n - a, slab)
                ]
                for task in tasks:  # rows of block I take their candidates in ascending id order
                    _merge(best_s, best_i, *task.result())
            yield b, best_i, best_s


def _rescored(unit: np.ndarray, k: int, candidates: Iterator[tuple[int, np.ndarray, np.ndarray]]):
    """The best k of each row's candidates by exact float32 score, as final rows come (a second thread)."""
    n, d = unit.shape
    ids = np.full((n, k), -1, np.int64)
    scores = np.full((n, k), -np.inf, np.float32)
    chunk = max(1, 2**23 // (d * (k + 1)))  # rows per gather of candidate vectors (about 32 MB)

    def rescore(lo: int, hi: int, cand: np.ndarray) -> None:
        for r0 in range(lo, hi, chunk):
            r1 = min(r0 + chunk, hi)
            c = cand[r0:r1]  # (R, C)
            exact = np.einsum("rcd,rd->rc", unit[np.maximum(c, 0)], unit[r0:r1])  # (R, C)
            exact[c < 0] = -np.inf
            best, top = order_candidates(c, exact, k)
            ids[r0:r1], scores[r0:r1] = best, np.nan_to_num(top, nan=-np.inf)

    pending: deque[tuple[int, Future]] = deque()
    done = 0
    with ThreadPoolExecutor(max_workers=1) as pool:
        for stop, cand, _ in candidates:
            pending.append((stop, pool.submit(rescore, done, stop, cand)))
            done = stop
            while pending and pending[0][1].done():
                ready, task = pending.popleft()
                task.result()
                yield ready, ids, scores
        for ready, task in pending:
            task.result()
            yield ready, ids, scores


def _floors(product, n: int, k: int, pool: ThreadPoolExecutor) -> np.ndarray:
    """A lower bound on each row's k-th best score: its k-th best within its window of rows, less slack."""
    floor = np.full(n, -np.inf, np.float32)

    def window(a: int, b: int) -> None:
        scores = product(a, b, a, b)  # (W, W)
        np.fill_diagonal(scores, -np.inf)
        floor[a:b] = np.partition(scores, b - a - k, axis=1)[:, b - a - k] - np.float32(product.slack)

    starts = [a for a in range(0, n, FLOOR_ROWS) if min(a + FLOOR_ROWS, n) - a > k]
    for task in [pool.submit(window, a, min(a + FLOOR_ROWS, n)) for a in starts]:
        task.result()
    return floor


def _sift(product, t0, t1, theta, a, b, best_s, best_i):
    """Strip rows ``t0 .. t1``: merge the candidates of rows j >= b, return those of block I's rows."""
    width = b - a
    part = product(a + t0, a + t1, a, b)  # (R, B) S[a + t0 + r, a + i]
    if t0 < width:  # a row is not its own neighbour
        own = np.arange(t0, min(t1, width))
        part[own - t0, own] = -np.inf
    found = np.flatnonzero(part > theta[None, :width])
    t, i = np.divmod(found, width)
    row_candidates = (a + i, a + t0 + t, part.ravel()[found])
    c0 = max(t0, width)
    if c0 < t1:
        below = part[c0 - t0 :]  # (R', B) rows j >= b against block I
        found = np.flatnonzero(below > theta[c0:t1, None])
        t, i = np.divmod(found, width)
        _merge(best_s, best_i, a + c0 + t, a + i, below.ravel()[found])
    return row_candidates


def _merge(best_s: np.ndarray, best_i: np.ndarray, rows: np.ndarray, ids: np.ndarray, scores: np.ndarray) -> None:
    """Merge candidates into the kept best of ``rows`` (best first: higher score, then lower id).

    Every candidate's id is above every id kept for its row, and one row's candidates come
    in ascending id order, so a stable sort by (row, score descending) ranks ties right.
    """
    if rows.size == 0:
        return
    k = best_s.shape[1]
    key = (rows.astype(np.int64) << 32) | _descending(scores)  # (M,) row ascending, then score descending
    order = _stable_order(rows, key)
    rows, ids, scores, key = rows[order], ids[order], scores[order], key[order]
    starts = np.empty(rows.size, bool)
    starts[0] = True
    np.not_equal(rows[1:], rows[:-1], out=starts[1:])
    first = np.flatnonzero(starts)
    touched = rows[first]  # (T,) distinct rows, ascending
    seg = np.cumsum(starts) - 1  # (M,) index into touched
    rank = np.arange(rows.size) - first[seg]  # rank among this row's candidates
    old_s, old_i = best_s[touched], best_i[touched]  # (T, k), best first
    # kept entries ranked before each candidate (a kept entry wins a tie: its id is lower)
    old_key = ((np.arange(touched.size, dtype=np.int64) << 32)[:, None] | _descending(old_s)).ravel()
    ahead = np.searchsorted(old_key, (seg << 32) | (key & 0xFFFFFFFF), side="right") - seg * k
    if rank.max() >= k:
        fits = rank < k
        ids, scores, rank, seg, ahead = ids[fits], scores[fits], rank[fits], seg[fits], ahead[fits]
    # merged places: a kept entry moves down past the candidates ranked before it; all stay below 2k
    passed = np.cumsum(np.bincount(seg * (k + 1) + ahead, minlength=touched.size * (k + 1)))
    passed = passed.reshape(-1, k + 1)[:, :k] - np.r_[0, passed[k :: k + 1][:-1]][:, None]  # (T, k)
    row_base = np.arange(touched.size)[:, None] * (2 * k)
    out_s = np.empty((touched.size, 2 * k), np.float32)
    out_i = np.empty((touched.size, 2 * k), np.int64)
    slot = row_base + np.arange(k) + passed
    out_s.ravel()[slot] = old_s
    out_i.ravel()[slot] = old_i
    slot = row_base[seg, 0] + rank + ahead
    out_s.ravel()[slot] = scores
    out_i.ravel()[slot] = ids
    best_s[touched] = out_s[:, :k]  # every place below k is filled: a row holds k + its candidates
    best_i[touched] = out_i[:, :k]


def _stable_order(rows: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Stable argsort of ``key``; when ``rows`` already ascend, only rows with several candidates are sorted."""
    if rows.size > 1 and (rows[1:] >= rows[:-1]).all():
        alone = np.empty(rows.size, bool)
        np.not_equal(rows[1:], rows[:-1], out=alone[1:])
        alone[0] = True
        alone[:-1] &= alone[1:].copy()
        several = np.flatnonzero(~alone)
        order = np.arange(rows.size)
        order[several] = several[np.argsort(key[several], kind="stable")]
        return order
    return np.argsort(key, kind="stable")


def _descending(scores: np.ndarray) -> np.ndarray:
    """int64 keys in [0, 2**32) that sort float32 scores from highest to lowest (-0.0 as 0.0)."""
    bits = (scores.astype(np.float32) + np.float32(0)).view(np.int32)
    ascending = bits ^ ((bits >> 31) & np.int32(0x7FFFFFFF))
    return np.int64(0x7FFFFFFF) - ascending.astype(np.int64)


def _blocks_torch(
    unit: np.ndarray, valid: np.ndarray, k: int, block_rows: int, device: str, dtype: str
) -> Iterator[NeighbourBlock]:
    """GPU path (float32 or bfloat16); it runs on CPU tensors too.

    bfloat16 picks ``k * RESCORE_FACTOR + 8`` candidates per row from low-precision
    scores, then re-scores them exactly in float32 and keeps the best k.
    """
    import torch

    with torch.no_grad():
        v, _d = unit.shape
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
