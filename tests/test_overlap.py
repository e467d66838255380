"""Matching two models' tokens and comparing their neighbourhoods, against brute force on small random graphs."""

from __future__ import annotations

import numpy as np
import pytest

from atlas.core.overlap import (
    WAYS,
    deciles,
    held_together,
    histogram,
    match_tokens,
    overlaps,
    same_tokenizer,
)

P = 0.9


def random_lists(rng, n: int, k: int, missing: float) -> np.ndarray:
    """(n, k) distinct neighbour rows (never the row itself), best first, a random tail of each row -1."""
    out = np.full((n, k), -1, dtype=np.int64)
    for row in range(n):
        others = np.delete(np.arange(n), row)
        take = rng.choice(others, min(k, n - 1), replace=False)
        keep = k if rng.random() >= missing else int(rng.integers(0, k + 1))
        out[row, : min(keep, len(take))] = take[:keep]
    return out


def brute_jaccard(a: list, b: list) -> float:
    sa, sb = set(a), set(b)
    return 1.0 if not sa | sb else len(sa & sb) / len(sa | sb)


def brute_rbo(a: list, b: list, k: int, p: float = P) -> float:
    """Extrapolated RBO (Webber et al. 2010, eq. 32) at the depth of the longer list, written out term by term."""
    depth = max(len(a), len(b))
    if depth == 0:
        return 1.0
    agreement = [len(set(a[:d]) & set(b[:d])) / d for d in range(1, depth + 1)]
    return agreement[-1] * p**depth + (1 - p) / p * sum(agreement[d - 1] * p**d for d in range(1, depth + 1))


def brute_match(text_a, keys_a, text_b, keys_b):
    """Pairs by text, then by variant key; the n-th of a value in A with the n-th in B (rows in order)."""
    pairs, taken_a, taken_b = {}, set(), set()
    for way, (va, vb) in (("text", (text_a, text_b)), ("variant", (keys_a, keys_b))):
        seen_a: dict = {}
        seen_b: dict = {}
        for r, v in enumerate(va):
            if r not in taken_a and v is not None:
                seen_a.setdefault(v, []).append(r)
        for r, v in enumerate(vb):
            if r not in taken_b and v is not None:
                seen_b.setdefault(v, []).append(r)
        for v, rows in seen_a.items():
            for ra, rb in zip(rows, seen_b.get(v, [])):
                pairs[ra] = (rb, way)
                taken_a.add(ra)
                taken_b.add(rb)
    return pairs, taken_a, taken_b


def vocabulary(rng, n: int) -> tuple[list[str], list[str | None]]:
    """Texts with repeats (so some texts are held by several tokens) and variant keys for some."""
    texts = [f"t{int(x)}" for x in rng.integers(0, n, n)]
    keys = [None if rng.random() < 0.3 else f"k{int(x)}" for x in rng.integers(0, n // 3 + 1, n)]
    return texts, keys


@pytest.mark.parametrize("seed", range(4))
def test_matching_by_text_then_variant_is_brute_forces(seed):
    rng = np.random.default_rng(seed)
    text_a, keys_a = vocabulary(rng, 60)
    text_b, keys_b = vocabulary(rng, 45)
    m = match_tokens(text_a, keys_a, text_b, keys_b, same=False)
    pairs, taken_a, taken_b = brute_match(text_a, keys_a, text_b, keys_b)
    assert {int(a): (int(b), WAYS[w]) for a, b, w in zip(m.a_rows, m.b_rows, m.way)} == pairs
    assert m.a_rows.tolist() == sorted(pairs)
    assert m.unmatched_a.tolist() == sorted(set(range(60)) - taken_a)
    assert m.unmatched_b.tolist() == sorted(set(range(45)) - taken_b)
    assert m.counts() == {
        "id": 0,
        "text": sum(w == "text" for _, w in pairs.values()),
        "variant": sum(w == "variant" for _, w in pairs.values()),
    }
    assert m.counts()["text"] > 0 and m.counts()["variant"] > 0  # both ways were exercised
    assert all(m.a_to_b[a] == b for a, (b, _) in pairs.items())
    assert (m.a_to_b[m.unmatched_a] == -1).all()


def test_same_tokenizer_matches_every_token_by_id():
    m = match_tokens(["a", "a", "b"], [None, None, "b"], ["a", "a", "b"], [None, None, "b"], same=True)
    assert m.a_rows.tolist() == m.b_rows.tolist() == [0, 1, 2]
    assert m.counts() == {"id": 3, "text": 0, "variant": 0}
    assert len(m.unmatched_a) == len(m.unmatched_b) == 0


def test_same_tokenizer_rule():
    ids = np.array([0, 1, 2])
    assert same_tokenizer("bpe", ids, ["a", "b", "c"], "bpe", ids.copy(), ["a", "b", "c"])
    assert not same_tokenizer("bpe", ids, ["a", "b", "c"], "wordpiece", ids, ["a", "b", "c"])
    assert not same_tokenizer("bpe", ids, ["a", "b", "c"], "bpe", ids, ["a", "b", "d"])
    assert not same_tokenizer("bpe", ids, ["a", "b", "c"], "bpe", ids[:2], ["a", "b"])


@pytest.mark.parametrize("k", [1, 2, 5, 20])
@pytest.mark.parametrize("same", [True, False])
def test_overlaps_are_brute_forces(k, same):
    rng = np.random.default_rng(k * 10 + same)
    n_a, n_b = 70, 70 if same else 55
    if same:
        text_a = text_b = [f"t{i}" for i in range(n_a)]
        keys_a = keys_b = [None] * n_a
    else:
        text_a, keys_a = vocabulary(rng, n_a)
        text_b, keys_b = vocabulary(rng, n_b)
    m = match_tokens(text_a, keys_a, text_b, keys_b, same=same)
    if not same:
        assert len(m.unmatched_a) > 0  # unmatched neighbours count as elements B cannot hold
    stored_k = k + 3
    na, nb = random_lists(rng, n_a, stored_k, 0.2), random_lists(rng, n_b, stored_k, 0.2)
    if same:  # make some neighbourhoods alike, so overlaps are not all near 0
        nb[: n_a // 2] = na[: n_a // 2]
        nb[n_a // 2 : n_a // 2 + 5, :k] = na[n_a // 2 : n_a // 2 + 5, :k][:, ::-1]
    jac, rbo = overlaps(na, nb, m, k)
    for j, (ra, rb) in enumerate(zip(m.a_rows, m.b_rows)):
        mapped = [("B", int(m.a_to_b[x])) if m.a_to_b[x] >= 0 else ("A", int(x)) for x in na[ra, :k] if x >= 0]
        listed_b = [("B", int(x)) for x in nb[rb, :k] if x >= 0]
        # a place left empty (-1) agrees with nothing; RBO runs to the last filled place of either list
        a_full = [
            (("B", int(m.a_to_b[x])) if m.a_to_b[x] >= 0 else ("A", int(x))) if x >= 0 else ("gapA", i)
            for i, x in enumerate(na[ra, :k])
        ]
        b_full = [("B", int(x)) if x >= 0 else ("gapB", i) for i, x in enumerate(nb[rb, :k])]
        last_a = max([i + 1 for i, x in enumerate(na[ra, :k]) if x >= 0], default=0)
        last_b = max([i + 1 for i, x in enumerate(nb[rb, :k]) if x >= 0], default=0)
        depth = max(last_a, last_b)
        assert jac[j] == pytest.approx(brute_jaccard(mapped, listed_b), abs=1e-12)
        assert rbo[j] == pytest.approx(brute_rbo(a_full[:depth], b_full[:depth], k), abs=1e-12)
    assert ((jac >= 0) & (jac <= 1)).all() and ((rbo >= 0) & (rbo <= 1 + 1e-12)).all()
    if same:
        assert (jac[: n_a // 2] == 1).all() and (rbo[: n_a // 2] == 1).all()
        reversed_rows = slice(n_a // 2, n_a // 2 + 5)
        full = (na[reversed_rows, :k] >= 0).all(1)
        assert (jac[reversed_rows][full] == 1).all()
        if k > 1:
            assert (rbo[reversed_rows][full] < 1).all()  # same set, other order: RBO sees it, Jaccard does not


@pytest.mark.parametrize("k", [1, 3, 20])
def test_a_model_against_itself_overlaps_exactly_one(k):
    rng = np.random.default_rng(k)
    n = 200
    texts = [f"t{i}" for i in range(n)]
    near = random_lists(rng, n, 20, 0.3)
    near[:3] = -1  # tokens without neighbours: both lists empty
    m = match_tokens(texts, [None] * n, texts, [None] * n, same=True)
    jac, rbo = overlaps(near, near, m, k)
    assert (jac == 1.0).all() and (rbo == 1.0).all()


def test_disjoint_neighbourhoods_overlap_zero():
    texts = [f"t{i}" for i in range(6)]
    m = match_tokens(texts, [None] * 6, texts, [None] * 6, same=True)
    a = np.array([[1, 2], [0, 2], [0, 1], [4, 5], [3, 5], [3, 4]])
    b = np.array([[3, 4], [3, 4], [3, 4], [0, 1], [0, 1], [0, 1]])
    jac, rbo = overlaps(a, b, m, 2)
    assert jac.tolist() == [0.0] * 6 and rbo.tolist() == [0.0] * 6


def test_k_beyond_the_neighbours_held_is_refused():
    texts = ["a", "b"]
    m = match_tokens(texts, [None] * 2, texts, [None] * 2, same=True)
    with pytest.raises(ValueError, match="k must be between 1"):
        overlaps(np.array([[1], [0]]), np.array([[1], [0]]), m, 2)


def test_overlaps_across_chunks_equal_one_block(monkeypatch):
    import atlas.core.overlap as overlap

    rng = np.random.default_rng(5)
    n = 300
    texts = [f"t{i}" for i in range(n)]
    m = match_tokens(texts, [None] * n, texts, [None] * n, same=True)
    na, nb = random_lists(rng, n, 8, 0.1), random_lists(rng, n, 8, 0.1)
    whole = overlaps(na, nb, m, 8)
    monkeypatch.setattr(overlap, "CHUNK", 7)
    chunked = overlaps(na, nb, m, 8)
    assert np.array_equal(whole[0], chunked[0]) and np.array_equal(whole[1], chunked[1])


def test_held_together_is_brute_forces():
    rng = np.random.default_rng(3)
    n = 400
    ca, cb = rng.integers(-1, 6, n), rng.integers(-1, 4, n)
    texts = [f"t{i}" for i in range(n)]
    m = match_tokens(texts, [None] * n, texts, [None] * n, same=True)
    found = {int(r[0]): r[1:].tolist() for r in held_together(ca, cb, m)}
    expected = {}
    for c in sorted(set(ca.tolist()) - {-1}):
        members = [int(cb[i]) for i in range(n) if ca[i] == c]
        counted = {b: members.count(b) for b in set(members) if b >= 0}
        best = min(counted, key=lambda b: (-counted[b], b))
        expected[c] = [len(members), best, counted[best]]
    assert found == expected


def test_deciles_and_histogram():
    values = np.linspace(0, 1, 101)
    assert deciles(values) == pytest.approx(np.linspace(0, 1, 11).tolist())
    assert histogram(values) == [10] * 9 + [11]
    assert deciles(np.zeros(0)) == [] and histogram(np.zeros(0)) == [0] * 10
