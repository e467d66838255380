"""A stored token's neighbours on a real Neo4j, checked against brute-force neighbours of the loaded matrix."""

from __future__ import annotations

import pytest
from view_tables import HAND_K, MINILM_K

from atlas.errors import InvalidArgument, TokenNotFound
from atlas.views.stored_neighbours import neighbours


@pytest.mark.parametrize("k", [1, 3, MINILM_K])
def test_neighbours_match_brute_force(store, stored_minilm, k):
    table, ref = stored_minilm
    for token in (28547, 16129, 101):
        got = neighbours(store, table.name, token, k)
        assert [n["id"] for n in got] == ref.nearest(token, k)
        assert [n["rank"] for n in got] == list(range(1, k + 1))
        assert [n["score"] for n in got] == pytest.approx([s for _, s in ref.ranked[token][:k]], abs=1e-5)
        assert [n["text"] for n in got] == [ref.text[n["id"]] for n in got]
        assert all(set(n) == {"id", "text", "score", "rank", "community"} and n["community"] is None for n in got)


@pytest.mark.parametrize("token", [1, 3, 6, 9])
def test_neighbours_collapsed(store, hand, token):
    table, ref = hand
    own = ref.key[token]
    expected, seen = [], set()
    for rank, (other, _score) in enumerate(ref.ranked[token][:HAND_K], start=1):
        key = ref.key[other]
        if key is not None and (key == own or key in seen):
            continue
        seen.add(key)
        expected.append((other, rank))
    for k in (1, 3, HAND_K):
        got = neighbours(store, table.name, token, k, collapse_variants=True)
        assert [(n["id"], n["rank"]) for n in got] == expected[:k]
        assert all(ref.key[n["id"]] != own for n in got)


def test_neighbours_collapsed_drops_own_group(store, hand):
    table, ref = hand
    plain = neighbours(store, table.name, 1, HAND_K)
    assert {ref.key[n["id"]] for n in plain[:2]} == {"list"}  # list's nearest are its variants
    collapsed = neighbours(store, table.name, 1, HAND_K, collapse_variants=True)
    assert "list" not in {ref.key[n["id"]] for n in collapsed}
    keys = [ref.key[n["id"]] for n in collapsed]
    assert len(keys) == len(set(keys))


def test_neighbours_errors(store, hand):
    table, _ = hand
    with pytest.raises(
        InvalidArgument, match=rf"k must be between 1 and {HAND_K} \(model '.*' was loaded with k={HAND_K}\), got 7"
    ):
        neighbours(store, table.name, 1, HAND_K + 1)
    with pytest.raises(InvalidArgument, match="got 0"):
        neighbours(store, table.name, 1, 0)
    with pytest.raises(TokenNotFound, match="token id 99 is not stored"):
        neighbours(store, table.name, 99, 2)
