"""Named views: the files' contract, and views run on a real Neo4j against brute-force neighbours."""

from __future__ import annotations

import uuid

import pytest
from view_tables import HAND_K, assert_matches

from atlas.errors import InvalidArgument, ModelNotLoaded
from atlas.graph import queries
from atlas.pages.export import render
from atlas.views.named import PARAM_TYPES, query_subgraph, statement_parameters, view_names, view_parameters


def test_view_files_follow_the_contract():
    assert {"view_neighbourhood", "view_variants"} <= set(view_names())
    for name in view_names():
        declared = view_parameters(name)
        assert next(p.name for p in declared) == "model"
        assert {p.name for p in declared} == set(statement_parameters(name)), name
        assert all(p.type in PARAM_TYPES for p in declared)
        assert queries.header(name).splitlines()[0], f"{name} has no description"
    assert [(p.name, p.type, p.default, p.required) for p in view_parameters("neighbourhood")] == [
        ("model", "string", None, True),
        ("text", "string", None, True),
        ("k", "integer", 10, False),
    ]


def test_every_new_statement_declares_its_parameters():
    for name in queries.names():
        if name.startswith(("view_", "prompt_", "atlas_", "variant_")):
            head = queries.header(name)
            assert "Parameters:" in head, name
            for param in statement_parameters(name):
                assert f"${param}" in head, (name, param)


def test_view_neighbourhood(store, hand):
    table, ref = hand
    subgraph = query_subgraph(store, "view_neighbourhood", {"model": table.name, "text": " list", "k": "3"})
    assert subgraph.title == "view_neighbourhood text=' list', k=3"
    assert_matches(subgraph, ref, {3}, 3, HAND_K)
    short = query_subgraph(store, "neighbourhood", {"model": table.name, "text": " list", "k": 3})
    assert render(short, "json") == render(subgraph, "json")
    default = query_subgraph(store, "neighbourhood", {"model": table.name, "text": " list"})  # default 10 > model k
    assert_matches(default, ref, {3}, HAND_K, HAND_K)


def test_view_variants(store, hand, stored_minilm):
    table, ref = hand
    subgraph = query_subgraph(store, "view_variants", {"model": table.name, "key": "list", "k": 2})
    assert_matches(subgraph, ref, {1, 2, 3, 10}, 2, HAND_K)
    default = query_subgraph(store, "variants", {"model": table.name, "key": "list"})
    assert_matches(default, ref, {1, 2, 3, 10}, 5, HAND_K)
    m_table, m_ref = stored_minilm
    group = {i for i, key in m_ref.key.items() if key == "are"}
    assert query_subgraph(store, "variants", {"model": m_table.name, "key": "are", "k": 1}).node_ids() >= group


def test_query_subgraph_errors(store, hand):
    table, _ = hand
    with pytest.raises(
        InvalidArgument, match=r"unknown view 'nope'; available views: .*view_neighbourhood.*view_variants"
    ):
        query_subgraph(store, "nope", {"model": table.name})
    with pytest.raises(InvalidArgument, match=r"unknown view 'model_delete_batch'"):
        query_subgraph(store, "model_delete_batch", {"model": table.name, "limit": 1})
    with pytest.raises(
        InvalidArgument, match=r"view view_variants needs the parameter 'key' \(string\); give it as key=VALUE"
    ):
        query_subgraph(store, "variants", {"model": table.name})
    with pytest.raises(InvalidArgument, match=r"needs the parameter 'model'"):
        query_subgraph(store, "variants", {"key": "list"})
    with pytest.raises(
        InvalidArgument, match=r"view view_variants takes no parameter 'text'; its parameters: model, key, k"
    ):
        query_subgraph(store, "variants", {"model": table.name, "key": "list", "text": "x"})
    with pytest.raises(InvalidArgument, match=r"parameter k of view_variants must be an integer, got 'two'"):
        query_subgraph(store, "variants", {"model": table.name, "key": "list", "k": "two"})
    with pytest.raises(InvalidArgument, match=f"loaded with k={HAND_K}"):
        query_subgraph(store, "variants", {"model": table.name, "key": "list", "k": HAND_K + 1})
    with pytest.raises(InvalidArgument, match=r"found no tokens in model .* for key='zebra', k=5"):
        query_subgraph(store, "variants", {"model": table.name, "key": "zebra"})
    with pytest.raises(ModelNotLoaded):
        query_subgraph(store, "variants", {"model": f"no-such-{uuid.uuid4().hex}", "key": "list"})
