"""Exact neighbours against a brute-force reference on small seeded matrices."""

import os

import numpy as np
import pytest

from atlas.core import topk as neighbours
from atlas.core.topk import (
    _blocks_torch,
    all_neighbours,
    block_rows_for_memory,
    choose_dtype,
    cpu_flags,
    duplicate_columns,
    iter_neighbours,
    normalise,
    order_candidates,
    peak_bytes,
)
from atlas.errors import InvalidArgument


def brute_force(matrix: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Full V x V cosine matrix in float64, self and zero rows excluded, ties by lower id."""
    e = matrix.astype(np.float64)
    norms = np.linalg.norm(e, axis=1)
    valid = norms > 0
    unit = np.where(valid[:, None], e / np.where(valid, norms, 1)[:, None], 0)
    sims = np.stack([(unit * row).sum(axis=1) for row in unit])  # same summation order in every column
    sims[:, ~valid] = -np.inf
    np.fill_diagonal(sims, -np.inf)
    v = len(e)
    ids = np.full((v, k), -1)
    scores = np.full((v, k), np.nan)
    for i in range(v):
        if not valid[i]:
            continue
        order = [j for j in np.lexsort((np.arange(v), -sims[i])) if np.isfinite(sims[i, j])][:k]
        ids[i, : len(order)] = order
        scores[i, : len(order)] = sims[i, order]
    return ids, scores


def assert_matches_reference(matrix, k, ids, scores, tol=1e-5):
    ref_ids, ref_scores = brute_force(matrix, k)
    np.testing.assert_array_equal(np.isnan(scores), np.isnan(ref_scores))
    np.testing.assert_allclose(scores, ref_scores, atol=tol, equal_nan=True)
    e = matrix.astype(np.float64)
    unit = e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-300)
    for i in range(len(matrix)):
        got = ids[i][ids[i] >= 0]
        want = ref_ids[i][ref_ids[i] >= 0]
        assert len(got) == len(want) and len(set(got)) == len(got) and i not in got
        if not np.array_equal(got, want):
            # only a float32 rounding near-tie may reorder: the true scores must agree
            np.testing.assert_allclose(unit[got] @ unit[i], ref_scores[i][: len(want)], atol=tol)


SHAPES_K = [
    (shape, k) for shape in [(7, 3), (40, 5), (100, 16), (257, 8), (1000, 24)] for k in (1, 3, 6, 20) if k < shape[0]
]


@pytest.mark.parametrize("shape,k", SHAPES_K)
@pytest.mark.parametrize("block_rows", [1, 64, 4096])
def test_matches_brute_force(shape, k, block_rows):
    rng = np.random.default_rng(shape[0] * 31 + k)
    matrix = rng.standard_normal(shape).astype(np.float32)
    ids, scores = all_neighbours(matrix, k, block_rows=block_rows)
    assert ids.shape == (shape[0], k) and scores.dtype == np.float32
    assert_matches_reference(matrix, k, ids, scores)


@pytest.mark.parametrize("k", [1, 2, 5, 9])
def test_duplicates_and_zero_rows_exact_ties(k):
    # identical rows (and a power-of-two multiple) normalise to bit-identical vectors, so their ties are exact
    rng = np.random.default_rng(k)
    matrix = rng.standard_normal((60, 6)).astype(np.float32)
    matrix[10] = matrix[20] = matrix[30] = matrix[40] = matrix[5]  # five identical rows
    matrix[7] = 0  # a zero row
    matrix[50] = 2 * matrix[5]  # same direction, other norm
    ids, scores = all_neighbours(matrix, k, block_rows=16)
    ref_ids, ref_scores = brute_force(matrix, k)
    np.testing.assert_array_equal(ids, ref_ids)  # ties resolved by lower id, exactly
    np.testing.assert_allclose(scores, ref_scores, atol=1e-6, equal_nan=True)
    assert (ids[7] == -1).all() and np.isnan(scores[7]).all()
    assert 7 not in ids
    twins = [5, 10, 20, 30, 40, 50]
    for i in twins:
        expected = [j for j in twins if j != i][:k]
        assert list(ids[i][: len(expected)]) == expected


def test_row_with_fewer_valid_neighbours_than_k_is_padded():
    matrix = np.zeros((6, 3), dtype=np.float32)
    matrix[0] = [1, 0, 0]
    matrix[1] = [0, 1, 0]
    matrix[2] = [1, 1, 0]
    ids, scores = all_neighbours(matrix, 4)
    assert list(ids[2]) == [0, 1, -1, -1]
    assert np.isnan(scores[2, 2:]).all()
    np.testing.assert_allclose(scores[2, :2], [2**-0.5, 2**-0.5], rtol=1e-6)


@pytest.mark.parametrize("shape,k", [((300, 12), 5), ((97, 4), 20)])
def test_torch_float32_path_matches_reference(shape, k):
    rng = np.random.default_rng(3)
    matrix = rng.standard_normal(shape).astype(np.float32)
    matrix[4] = matrix[9]
    matrix[11] = 0
    unit, valid = normalise(matrix)
    blocks = list(_blocks_torch(unit, valid, k, 50, "cpu", "float32"))
    ids = np.concatenate([b.ids for b in blocks])
    scores = np.concatenate([b.scores for b in blocks])
    assert_matches_reference(matrix, k, ids, scores)


def test_bfloat16_agrees_with_float32():
    rng = np.random.default_rng(5)
    matrix = rng.standard_normal((2000, 64)).astype(np.float32)
    exact_ids, _ = all_neighbours(matrix, 10)
    fast_ids, fast_scores = all_neighbours(matrix, 10, dtype="bfloat16")
    agreement = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact_ids, fast_ids)])
    assert agreement >= 0.97
    # returned scores are exact float32 cosines of the returned pairs
    unit, _ = normalise(matrix)
    recomputed = np.einsum("vkd,vd->vk", unit[fast_ids], unit)
    np.testing.assert_allclose(fast_scores, recomputed, atol=1e-5)


def test_order_candidates_breaks_ties_by_lower_id():
    ids, scores = order_candidates(np.array([[9, 4, 7, 1]]), np.array([[0.5, 0.5, 0.9, -np.inf]]), 4)
    assert ids.tolist() == [[7, 4, 9, -1]]
    assert np.isnan(scores[0, 3])


@pytest.mark.parametrize("k", [0, -1, 5])
def test_k_out_of_range(k):
    with pytest.raises(InvalidArgument, match=r"k must be between 1 and 4 \(vocabulary size - 1\)"):
        all_neighbours(np.eye(5, dtype=np.float32), k)


def test_nan_matrix_rejected():
    m = np.eye(4, dtype=np.float32)
    m[1, 1] = np.nan
    with pytest.raises(InvalidArgument, match="NaN or infinite"):
        all_neighbours(m, 2)


def test_memory_bound():
    rows = block_rows_for_memory(151_936, 1536, 3 * 2**30)
    assert peak_bytes(151_936, 1536, rows) <= 3 * 2**30 < peak_bytes(151_936, 1536, rows + 1)
    with pytest.raises(InvalidArgument, match="too small"):
        block_rows_for_memory(151_936, 1536, 2**20)


def sign_matrix(rows: int, dim: int, seed: int) -> np.ndarray:
    """Rows of +-1: in 16 dims, unit rows of +-0.25 whose cosines (multiples of 1/8) are exact in bfloat16 too."""
    return np.random.default_rng(seed).choice([-1.0, 1.0], size=(rows, dim)).astype(np.float32)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("block_rows", [1, 7, 64, 4096])
@pytest.mark.parametrize("k", [1, 5, 20, 60])
def test_exact_ties_between_distinct_rows(dtype, block_rows, k):
    # 300 sign rows share a handful of score levels: ties straddle every k-th place and every strip
    matrix = sign_matrix(300, 16, seed=k)
    matrix[17] = matrix[3]  # a copy
    matrix[29] = 0  # a zero row
    ids, scores = all_neighbours(matrix, k, block_rows=block_rows, dtype=dtype)
    ref_ids, ref_scores = brute_force(matrix, k)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(scores, ref_scores.astype(np.float32))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_many_slabs_and_windows(monkeypatch, dtype):
    # tiny slabs and lower-bound windows: many threads' merges per strip, bounds from many windows
    monkeypatch.setattr(neighbours, "SLAB_ENTRIES", 64)
    monkeypatch.setattr(neighbours, "FLOOR_ROWS", 40)
    matrix = sign_matrix(500, 16, seed=11)
    ids, _ = all_neighbours(matrix, 12, block_rows=16, dtype=dtype)
    np.testing.assert_array_equal(ids, brute_force(matrix, 12)[0])
    rng = np.random.default_rng(12)
    matrix = rng.standard_normal((700, 20)).astype(np.float32)
    ids, scores = all_neighbours(matrix, 9, block_rows=33)
    assert_matches_reference(matrix, 9, ids, scores)


def test_without_threadpoolctl_one_worker(monkeypatch):
    monkeypatch.setattr(neighbours, "_blas_controller", lambda: None)
    rng = np.random.default_rng(13)
    matrix = rng.standard_normal((400, 12)).astype(np.float32)
    ids, scores = all_neighbours(matrix, 7, block_rows=50)
    assert_matches_reference(matrix, 7, ids, scores)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_degenerate_matrices(dtype):
    zeros = np.zeros((5, 3), np.float32)
    ids, scores = all_neighbours(zeros, 2, dtype=dtype)
    assert (ids == -1).all() and np.isnan(scores).all()
    same = np.tile(np.array([[1.0, 2.0, 2.0]], np.float32), (6, 1))
    same[2] = 0
    ids, scores = all_neighbours(same, 4, dtype=dtype)
    assert ids[0].tolist() == [1, 3, 4, 5] and ids[5].tolist() == [0, 1, 3, 4]
    assert (ids[2] == -1).all()
    np.testing.assert_allclose(scores[0], 1.0, atol=1e-6)
    pair = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], np.float32)
    ids, scores = all_neighbours(pair, 2, dtype=dtype)
    assert ids.tolist() == [[2, 1], [0, 2], [0, 1]]
    np.testing.assert_allclose(scores, [[1, 0], [0, 0], [1, 0]], atol=1e-6)


def test_bfloat16_duplicates_and_zero_rows():
    rng = np.random.default_rng(14)
    matrix = rng.standard_normal((800, 32)).astype(np.float32)
    matrix[[100, 300, 700]] = matrix[50]
    matrix[[5, 6]] = 0
    exact_ids, _ = all_neighbours(matrix, 8)
    fast_ids, _fast_scores = all_neighbours(matrix, 8, dtype="bfloat16", block_rows=128)
    assert fast_ids[50][:3].tolist() == [100, 300, 700]
    assert (fast_ids[5] == -1).all() and not np.isin([5, 6], fast_ids).any()
    agreement = np.mean([len(set(a) & set(b)) / 8 for a, b in zip(exact_ids, fast_ids)])
    assert agreement >= 0.97


def test_streams_blocks_in_row_order():
    rng = np.random.default_rng(15)
    matrix = rng.standard_normal((1000, 8)).astype(np.float32)
    matrix[[10, 900]] = matrix[400]
    done = []
    blocks = list(iter_neighbours(matrix, 3, block_rows=128, done=done.append))
    assert [b.start for b in blocks] == list(np.cumsum([0] + [len(b.ids) for b in blocks[:-1]]))
    assert max(len(b.ids) for b in blocks) <= 128 and sum(done) == 1000


def test_memory_bound_grows_with_k_and_block():
    assert peak_bytes(30_522, 384, 1024, k=40) > peak_bytes(30_522, 384, 1024, k=20) > peak_bytes(30_522, 384, 512)
    assert block_rows_for_memory(30_522, 384, 2**30, k=100) < block_rows_for_memory(30_522, 384, 2**30)


@pytest.mark.parametrize("colliding", [False, True])
def test_duplicate_columns_against_unique(monkeypatch, colliding):
    if colliding:  # every row the same digest: the whole-row comparison must take over
        monkeypatch.setattr(neighbours, "_row_digests", lambda bits: np.zeros(len(bits), np.uint64))
    rng = np.random.default_rng(16)
    for _ in range(50):
        matrix = rng.integers(-2, 3, size=(rng.integers(1, 60), rng.integers(1, 5))).astype(np.float32)
        valid = np.abs(matrix).sum(axis=1) > 0
        rows = matrix.view(np.dtype((np.void, matrix.shape[1] * 4))).ravel()
        _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
        rep = first[inverse.ravel()]
        dup = np.flatnonzero((rep != np.arange(len(matrix))) & valid)
        got_dup, got_rep = duplicate_columns(matrix, valid)
        np.testing.assert_array_equal(got_dup, dup)
        np.testing.assert_array_equal(got_rep, rep[dup])


AVX2 = frozenset({"sse4_2", "avx", "avx2", "fma"})
AMX = AVX2 | {"avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}


@pytest.mark.parametrize(
    "asked, device, flags, used, overridden",
    [
        ("auto", "cpu", AVX2, "float32", False),  # emulated bfloat16: 19x slower on MiniLM
        ("auto", "cpu", AMX, "bfloat16", False),
        ("auto", "cpu", AVX2 | {"avx512f"}, "float32", False),  # AVX-512 without its bfloat16 extension
        ("auto", "cuda", AVX2, "bfloat16", False),
        ("bfloat16", "cpu", AVX2, "float32", True),
        ("bfloat16", "cpu", AVX2 | {"avx512_bf16"}, "bfloat16", False),
        ("bfloat16", "cuda", AVX2, "bfloat16", False),
        ("float32", "cpu", AMX, "float32", False),
        ("float32", "cuda", AMX, "float32", False),
    ],
)
def test_choose_dtype_picks_bfloat16_only_where_it_is_faster(asked, device, flags, used, overridden):
    choice = choose_dtype(asked, device, flags)
    assert (choice.dtype, choice.overridden) == (used, overridden)
    assert "\n" not in choice.reason and choice.reason.startswith(f"dtype {asked}")


def test_choose_dtype_says_why():
    assert choose_dtype("auto", "cpu", AVX2).reason == (
        "dtype auto: float32 (exact), as this CPU has no amx_bf16 or avx512_bf16, "
        "so bfloat16 products are many times slower than float32"
    )
    assert choose_dtype("bfloat16", "cpu", AVX2).reason == (
        "dtype bfloat16 would be slower here (this CPU has no amx_bf16 or avx512_bf16, "
        "so bfloat16 products are many times slower than float32): computing in float32 instead (exact)"
    )
    assert choose_dtype("auto", "cpu", AMX).reason == (
        "dtype auto: bfloat16 candidates re-scored in float32, as this CPU has amx_bf16 and avx512_bf16; "
        "not exact: a neighbour whose bfloat16 score falls below the candidates is missed (MiniLM: 0.27 % of them)"
    )
    assert choose_dtype("float32", "cpu", AVX2).reason == "dtype float32: exact"
    assert choose_dtype("float32", "cpu", AMX).reason == (
        "dtype float32: exact (this CPU has amx_bf16 and avx512_bf16: dtype bfloat16 would be faster, "
        "but can miss a neighbour)"
    )
    with pytest.raises(InvalidArgument, match=r"dtype must be one of auto, float32, bfloat16, got 'float16'"):
        choose_dtype("float16", "cpu", AVX2)


def test_cpu_flags_reads_this_machine():
    flags = cpu_flags()
    if not os.path.exists("/proc/cpuinfo"):
        assert flags == frozenset()
    else:
        with open("/proc/cpuinfo") as info:
            lines = [line for line in info if line.startswith("flags")]
        assert flags == (frozenset(lines[0].split(":", 1)[1].split()) if lines else frozenset())
