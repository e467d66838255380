"""find_token, find_token_by_id and variant_group on a real Neo4j, with hostile token text."""

from __future__ import annotations

import uuid

import pytest
from view_tables import NASTY

from atlas.errors import InvalidArgument, ModelNotLoaded, TokenNotFound
from atlas.views.lookup import find_token, find_token_by_id, variant_group
from atlas.views.named import query_subgraph


def test_find_token_exact(store, stored_minilm, hand):
    table, _ = stored_minilm
    assert find_token(store, table.name, "programmers") == {
        "id": 28547,
        "text": "programmers",
        "raw": "programmers",
        "special": False,
    }
    assert find_token(store, table.name, "[CLS]")["special"] is True
    assert find_token(store, hand[0].name, " list")["id"] == 3
    assert find_token(store, hand[0].name, "List")["id"] == 2


def test_find_token_by_id(store, hand):
    table, _ = hand
    assert find_token_by_id(store, table.name, 8) == {"id": 8, "text": NASTY, "raw": NASTY, "special": False}
    assert find_token_by_id(store, table.name, 0)["special"] is True
    with pytest.raises(TokenNotFound, match=r"token id 14 is not in model .* \(it has 14 tokens\)"):
        find_token_by_id(store, table.name, 14)


def test_find_token_suggests_variants_then_prefixes(store, hand):
    table, _ = hand
    with pytest.raises(TokenNotFound) as error:
        find_token(store, table.name, "LIST")
    message = str(error.value)
    assert message.startswith(f"token 'LIST' is not in the vocabulary of {table.name}; close tokens: ")
    assert message.endswith("(use one of them)")
    # the group's tokens by id, then the prefix matches not already named (" lists")
    assert "close tokens: 'list', 'List', ' list', ' List', ' lists' (use" in message


def test_find_token_nothing_close(store, hand):
    table, _ = hand
    with pytest.raises(
        TokenNotFound,
        match=r"token 'zebra' is not in the vocabulary of .* and no token is close; check the spelling",
    ):
        find_token(store, table.name, "zebra")


def test_hostile_text_is_data(store, hand, stored_minilm):
    table, _ = hand
    before = {m["model"]["name"]: m["tokens"] for m in store.models()}
    assert find_token(store, table.name, NASTY) == {"id": 8, "text": NASTY, "raw": NASTY, "special": False}
    with pytest.raises(TokenNotFound) as error:
        find_token(store, table.name, NASTY[:-3])
    assert f"close tokens: {NASTY!r} (use" in str(
        error.value
    )  # a prefix match: the typed text reached Neo4j as a value
    with pytest.raises(TokenNotFound):
        find_token(store, stored_minilm[0].name, NASTY)
    with pytest.raises(TokenNotFound):
        variant_group(store, stored_minilm[0].name, NASTY)
    assert variant_group(store, table.name, NASTY)["tokens"] == [{"id": 8, "text": NASTY, "raw": NASTY}]
    with pytest.raises(InvalidArgument, match="found no tokens"):
        query_subgraph(store, "view_neighbourhood", {"model": table.name, "text": NASTY + " ", "k": 2})
    assert {m["model"]["name"]: m["tokens"] for m in store.models()} == before


def test_unknown_model(store):
    with pytest.raises(ModelNotLoaded, match="is not loaded"):
        find_token(store, f"no-such-model-{uuid.uuid4().hex}", "list")


def test_variant_group(store, hand):
    table, _ = hand
    group = variant_group(store, table.name, "list")
    assert group["key"] == "list"
    assert group["tokens"] == [
        {"id": 1, "text": "list", "raw": "list"},
        {"id": 2, "text": "List", "raw": "List"},
        {"id": 3, "text": " list", "raw": "Ġlist"},
        {"id": 10, "text": " List", "raw": "ĠList"},
    ]
    assert variant_group(store, table.name, " LIST ") == group
    assert variant_group(store, table.name, "_List") == group
    assert [t["id"] for t in variant_group(store, table.name, "lists")["tokens"]] == [4]
    with pytest.raises(
        TokenNotFound, match=r"no token of .* spells 'arr' \(variant key 'arr'\); close tokens: ' Array', ' array'$"
    ):
        variant_group(store, table.name, "arr")
    with pytest.raises(InvalidArgument, match="only whitespace"):
        variant_group(store, table.name, "  ")
