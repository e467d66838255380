"""Comparing two models' neighbour graphs: which tokens are the same, and how alike their neighbourhoods are.

Tokens of model A are matched one to one with tokens of model B in three ways, tried in order:

- **id**: when both come from the same tokenizer (:func:`same_tokenizer`: the same family and
  identical ``(id, text)`` lists), token ``i`` of A is token ``i`` of B, and that is all;
- **text**: otherwise tokens with the same exact text are paired;
- **variant**: tokens still unpaired that share a variant key (``list``, `` list``, ``List``,
  ``##list``) are paired.

Within a text or a key held by several tokens, the n-th token of A (by id) pairs with the n-th
of B. A token's neighbours in A are mapped through the matching into B's tokens and compared
with its partner's neighbours in B: Jaccard overlap of the two sets, and rank-biased overlap
(:func:`overlaps`). Everything is vectorised over all tokens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WAYS = ("id", "text", "variant")  # how a pair was matched; Matching.way holds the index
P = 0.9  # RBO's persistence: the weight of the first d ranks is 1 - p^d (the first 10 hold about 65 %)
CHUNK = 8192  # matched tokens per block: with k = 20, a (CHUNK, k, k) bool block of 3.3 MB


@dataclass
class Matching:
    """Pairs of rows ``(a_rows[j], b_rows[j])`` (ascending in A's rows), each matched the way ``WAYS[way[j]]``."""

    a_rows: np.ndarray  # (m,) int64 rows of A
    b_rows: np.ndarray  # (m,) int64 rows of B
    way: np.ndarray  # (m,) int8 index into WAYS
    a_to_b: np.ndarray  # (n_a,) int64: A's row -> its partner's row in B, -1 for none
    unmatched_a: np.ndarray  # (n_a - m,) int64 rows of A without a partner, ascending
    unmatched_b: np.ndarray  # (n_b - m,) int64 rows of B without a partner, ascending

    def counts(self) -> dict[str, int]:
        """How many pairs each way made: ``{"id": .., "text": .., "variant": ..}``."""
        found = np.bincount(self.way, minlength=len(WAYS))
        return {name: int(n) for name, n in zip(WAYS, found)}

    def __len__(self) -> int:
        return len(self.a_rows)


def same_tokenizer(
    family_a: str, ids_a: np.ndarray, text_a: list[str], family_b: str, ids_b: np.ndarray, text_b: list[str]
) -> bool:
    """Whether A and B have the same tokenizer: the same family and identical ``(id, text)`` lists (ids ascending).

    >>> same_tokenizer("wordpiece", np.array([0, 1]), ["a", "b"], "wordpiece", np.array([0, 1]), ["a", "b"])
    True
    >>> same_tokenizer("wordpiece", np.array([0, 1]), ["a", "b"], "wordpiece", np.array([0, 2]), ["a", "b"])
    False
    """
    return family_a == family_b and np.array_equal(ids_a, ids_b) and text_a == text_b


def _codes(values_a: list, values_b: list) -> tuple[np.ndarray, np.ndarray]:
    """Each value as an integer code shared by both lists; None is -1."""
    index: dict = {}
    code = lambda v: -1 if v is None else index.setdefault(v, len(index))  # noqa: E731
    return (
        np.fromiter((code(v) for v in values_a), np.int64, len(values_a)),
        np.fromiter((code(v) for v in values_b), np.int64, len(values_b)),
    )


def _occurrence(codes: np.ndarray) -> np.ndarray:
    """For each entry, how many earlier entries have the same code (0 for the first).

    >>> _occurrence(np.array([5, 3, 5, 5, 3])).tolist()
    [0, 0, 1, 2, 1]
    """
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(sorted_codes[1:] != sorted_codes[:-1]) + 1]
    first = np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    found = np.empty(len(codes), dtype=np.int64)
    found[order] = np.arange(len(codes)) - first
    return found


def _pair_equal(codes_a: np.ndarray, rows_a: np.ndarray, codes_b: np.ndarray, rows_b: np.ndarray) -> tuple:
    """Pair ``rows_a`` with ``rows_b`` of equal code (-1: never), the n-th of a code in A with the n-th in B."""
    keep_a, keep_b = codes_a >= 0, codes_b >= 0
    codes_a, rows_a, codes_b, rows_b = codes_a[keep_a], rows_a[keep_a], codes_b[keep_b], rows_b[keep_b]
    width = max(len(rows_a), len(rows_b), 1)
    key_a = codes_a * width + _occurrence(codes_a)
    key_b = codes_b * width + _occurrence(codes_b)
    _, at_a, at_b = np.intersect1d(key_a, key_b, assume_unique=True, return_indices=True)
    return rows_a[at_a], rows_b[at_b]


def match_tokens(
    text_a: list[str],
    keys_a: list[str | None],
    text_b: list[str],
    keys_b: list[str | None],
    same: bool,
) -> Matching:
    """Match A's tokens with B's: all by id (row ``i`` is row ``i``) when ``same``, else by exact text, then by variant key.

    Rows are in id order on both sides; ``keys`` are the variant keys (None: in no group).

    >>> m = match_tokens(["cat", "list", "x"], [None, "list", None], ["list", " List", "cat"], ["list", "list", None], False)
    >>> m.a_rows.tolist(), m.b_rows.tolist(), [WAYS[w] for w in m.way], m.unmatched_a.tolist(), m.unmatched_b.tolist()
    ([0, 1], [2, 0], ['text', 'text'], [2], [1])
    """
    n_a, n_b = len(text_a), len(text_b)
    if same:
        if n_a != n_b:
            raise ValueError(f"the same tokenizer has as many tokens on both sides, not {n_a} and {n_b}")
        rows = np.arange(n_a, dtype=np.int64)
        empty = np.zeros(0, dtype=np.int64)
        return Matching(rows, rows.copy(), np.zeros(n_a, dtype=np.int8), rows.copy(), empty, empty.copy())
    a_to_b = np.full(n_a, -1, dtype=np.int64)
    b_taken = np.zeros(n_b, dtype=bool)
    parts = []
    for way, (values_a, values_b) in ((1, (text_a, text_b)), (2, (keys_a, keys_b))):
        free_a, free_b = np.flatnonzero(a_to_b < 0), np.flatnonzero(~b_taken)
        codes_a, codes_b = _codes([values_a[r] for r in free_a], [values_b[r] for r in free_b])
        rows_a, rows_b = _pair_equal(codes_a, free_a, codes_b, free_b)
        a_to_b[rows_a] = rows_b
        b_taken[rows_b] = True
        parts.append((rows_a, rows_b, np.full(len(rows_a), way, dtype=np.int8)))
    a_rows, b_rows, ways = (np.concatenate([p[i] for p in parts]) for i in range(3))
    order = np.argsort(a_rows, kind="stable")
    return Matching(
        a_rows[order].astype(np.int64),
        b_rows[order].astype(np.int64),
        ways[order],
        a_to_b,
        np.flatnonzero(a_to_b < 0),
        np.flatnonzero(~b_taken),
    )


def _depth(valid: np.ndarray) -> np.ndarray:
    """(n,) one past the last True of each row of ``valid`` (n, k); 0 for none."""
    k = valid.shape[1]
    return np.where(valid.any(1), k - np.argmax(valid[:, ::-1], axis=1), 0)


def overlaps(
    neighbours_a: np.ndarray, neighbours_b: np.ndarray, matching: Matching, k: int, p: float = P
) -> tuple[np.ndarray, np.ndarray]:
    """Per matched pair, how alike the token's ``k`` nearest are in A and in B: ``(jaccard (m,), rbo (m,))`` float64.

    ``neighbours_a`` (n_a, >= k) and ``neighbours_b`` (n_b, >= k) hold rows, best first, -1 for
    none. A's neighbours are mapped through ``matching`` into B's rows; a neighbour without a
    partner counts as an element B's list cannot hold.

    Jaccard is ``|shared| / |union|`` of the two sets. RBO is the *extrapolated* rank-biased
    overlap of Webber, Moffat and Zobel (2010, eq. 32) at depth ``k``::

        RBO_ext = (X_k / k) p^k + (1 - p) / p * sum_{d=1..k} (X_d / d) p^d

    where ``X_d`` is how many tokens the first ``d`` of both lists share. Identical lists give
    exactly 1 (it is computed as 1 minus the weighted disagreement, which is then exactly 0);
    lists with no token in common give 0. A list shorter than ``k`` (missing neighbours) is
    evaluated at the depth of the longer of the two lists, its empty places agreeing with
    nothing; two empty lists agree completely (both overlaps 1).

    >>> m = match_tokens(list("abcd"), [None] * 4, list("abcd"), [None] * 4, True)
    >>> j, r = overlaps(np.array([[1, 2], [0, 2], [0, 1], [0, 1]]), np.array([[2, 1], [0, 2], [0, 3], [-1, -1]]), m, 2)
    >>> np.round(j, 4).tolist(), np.round(r, 4).tolist()
    ([1.0, 1.0, 0.3333, 0.0], [0.9, 1.0, 0.55, 0.0])
    """
    if k < 1 or k > neighbours_a.shape[1] or k > neighbours_b.shape[1]:
        raise ValueError(
            f"k must be between 1 and the neighbours held ({neighbours_a.shape[1]}, {neighbours_b.shape[1]})"
        )
    m = len(matching)
    jaccard = np.empty(m, dtype=np.float64)
    rbo = np.empty(m, dtype=np.float64)
    d = np.arange(1, k + 1)
    weight = (1 - p) * p ** (d - 1.0)  # (k,) the weight of agreement at depth d
    for start in range(0, m, CHUNK):
        stop = min(start + CHUNK, m)
        near_a = neighbours_a[matching.a_rows[start:stop], :k]  # (c, k) rows of A
        mapped = np.where(near_a >= 0, matching.a_to_b[np.maximum(near_a, 0)], -1)  # (c, k) rows of B
        near_b = neighbours_b[matching.b_rows[start:stop], :k]  # (c, k) rows of B
        same = (mapped[:, :, None] == near_b[:, None, :]) & (mapped[:, :, None] >= 0)  # (c, k, k)
        shared = same.any(2)  # (c, k): A's place holds a token B's list holds too
        at = np.maximum(np.arange(k), same.argmax(2))  # (c, k) the depth (0-based) from which the pair counts
        rows = np.repeat(np.arange(stop - start), k).reshape(-1, k)
        counts = np.bincount((rows * k + at)[shared], minlength=(stop - start) * k).reshape(-1, k)
        agreed = np.cumsum(counts, axis=1)  # (c, k) X_d
        size_a, size_b = (near_a >= 0).sum(1), (near_b >= 0).sum(1)
        both = agreed[:, -1]
        union = size_a + size_b - both
        jaccard[start:stop] = np.where(union > 0, both / np.maximum(union, 1), 1.0)
        depth = np.maximum(_depth(near_a >= 0), _depth(near_b >= 0))  # (c,)
        missing = 1.0 - agreed / d  # (c, k) 1 - A_d
        within = d[None, :] <= depth[:, None]
        last = missing[np.arange(stop - start), np.maximum(depth - 1, 0)]
        loss = (missing * weight * within).sum(1) + p ** depth.astype(np.float64) * last
        rbo[start:stop] = np.where(depth > 0, 1.0 - loss, 1.0)
    return jaccard, rbo


def held_together(community_a: np.ndarray, community_b: np.ndarray, matching: Matching) -> np.ndarray:
    """For each community of A with matched members: ``[community, matched members, B's most common community
    among them, how many of them are in it]``, as an (n, 4) int64 array by community.

    Members without a community in A are left out; in B they count among the members but never
    as the most common community (-1 and 0 when none has one). Ties go to the lowest community id.

    >>> m = match_tokens(list("abcde"), [None] * 5, list("abcde"), [None] * 5, True)
    >>> held_together(np.array([0, 0, 0, 1, -1]), np.array([4, 4, 2, -1, 4]), m).tolist()
    [[0, 3, 4, 2], [1, 1, -1, 0]]
    """
    ca = community_a[matching.a_rows].astype(np.int64)
    cb = community_b[matching.b_rows].astype(np.int64)
    keep = ca >= 0
    ca, cb = ca[keep], cb[keep]
    if len(ca) == 0:
        return np.zeros((0, 4), dtype=np.int64)
    communities, members = np.unique(ca, return_counts=True)
    top = np.full(len(communities), -1, dtype=np.int64)
    held = np.zeros(len(communities), dtype=np.int64)
    has = cb >= 0
    if has.any():
        width = int(cb.max()) + 1
        pairs, count = np.unique(ca[has] * width + cb[has], return_counts=True)
        pair_a, pair_b = pairs // width, pairs % width
        order = np.lexsort((pair_b, -count, pair_a))  # by A's community, most members first, then lowest id
        first = order[np.r_[True, pair_a[order][1:] != pair_a[order][:-1]]]
        at = np.searchsorted(communities, pair_a[first])
        top[at], held[at] = pair_b[first], count[first]
    return np.stack([communities, members, top, held], axis=1)


def deciles(values: np.ndarray) -> list[float]:
    """The 0th, 10th, ..., 100th percentiles of ``values`` (empty: []).

    >>> deciles(np.arange(11) / 10)
    [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
    """
    if len(values) == 0:
        return []
    return [round(float(v), 10) for v in np.quantile(values, np.linspace(0, 1, 11))]


def histogram(values: np.ndarray, bins: int = 10) -> list[int]:
    """How many of ``values`` (in [0, 1]) fall in each of ``bins`` equal bins; 1.0 goes in the last.

    >>> histogram(np.array([0.0, 0.05, 0.5, 1.0]), 4)
    [2, 0, 1, 1]
    """
    at = np.clip((np.asarray(values) * bins).astype(np.int64), 0, bins - 1)
    return np.bincount(at, minlength=bins).tolist()
