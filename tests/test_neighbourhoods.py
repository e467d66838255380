"""Prompt subgraphs, random words and the atlas on a real Neo4j, checked against brute-force neighbours."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
from view_tables import HAND_K, MINILM_K, NASTY, assert_matches, hand_table

from atlas.core.prompt_tokens import PromptToken
from atlas.core.variants import is_word
from atlas.errors import InvalidArgument, TokenNotFound
from atlas.loaders.pipeline import load
from atlas.pages.export import render
from atlas.views.named import query_subgraph
from atlas.views.neighbourhoods import atlas_subgraph, prompt_subgraph, random_words

# --- prompt subgraph --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, MINILM_K])
def test_prompt_subgraph_matches_brute_force(store, stored_minilm, article_tokens, k):
    table, ref = stored_minilm
    subgraph = prompt_subgraph(store, table.name, article_tokens, k)
    assert subgraph.model == table.name
    assert subgraph.title == "prompt html|code|##rs|are|not|considered|programmers"
    assert_matches(subgraph, ref, {t.id for t in article_tokens}, k, MINILM_K)
    # more than the seed -> neighbour edges: some edge starts at a neighbour
    seeds = {t.id for t in article_tokens}
    if k > 1:
        assert any(e.source not in seeds for e in subgraph.edges)


def test_prompt_subgraph_repeated_and_special_tokens(store, stored_minilm):
    table, ref = stored_minilm
    tokens = [
        PromptToken(0, 101, "[CLS]"),
        PromptToken(1, 2024, "are"),
        PromptToken(2, 2024, "are"),
        PromptToken(3, 102, "[SEP]"),
    ]
    subgraph = prompt_subgraph(store, table.name, tokens, 2, title="are are")
    assert subgraph.title == "are are"
    assert_matches(subgraph, ref, {101, 2024, 102}, 2, MINILM_K)
    specials = {n.id for n in subgraph.nodes if n.special}
    assert {101, 102} <= specials


def test_prompt_subgraph_is_deterministic(store, stored_minilm, article_tokens):
    table, _ = stored_minilm
    first = render(prompt_subgraph(store, table.name, article_tokens, 5, title="t"), "json")
    assert render(prompt_subgraph(store, table.name, article_tokens, 5, title="t"), "json") == first
    assert render(prompt_subgraph(store, table.name, article_tokens[::-1], 5, title="t"), "json") == first


def test_prompt_subgraph_errors(store, stored_minilm, article_tokens):
    table, _ = stored_minilm
    with pytest.raises(InvalidArgument, match=f"loaded with k={MINILM_K}"):
        prompt_subgraph(store, table.name, article_tokens, MINILM_K + 1)
    with pytest.raises(InvalidArgument, match="the prompt has no tokens"):
        prompt_subgraph(store, table.name, [], 2)
    with pytest.raises(TokenNotFound, match="prompt token 5 is not stored"):
        prompt_subgraph(store, table.name, [*article_tokens, PromptToken(7, 5, "[unused4]")], 2)


def test_prompt_subgraph_collapsed(store, hand):
    table, ref = hand
    seeds = {1, 6}  # "list", " cat"
    tokens = [PromptToken(0, 1, "list"), PromptToken(1, 6, "Ġcat")]
    plain = prompt_subgraph(store, table.name, tokens, HAND_K)
    assert_matches(plain, ref, seeds, HAND_K, HAND_K)
    collapsed = prompt_subgraph(store, table.name, tokens, HAND_K, collapse_variants=True)

    # expected groups from the brute-force node set
    nodes, edges = ref.subgraph(seeds, HAND_K, HAND_K)
    groups: dict = {}
    for i in sorted(nodes):
        groups.setdefault(ref.key[i] if ref.key[i] is not None else ("token", i), []).append(i)
    home = {i: members[0] for members in groups.values() for i in members}
    assert {n.id for n in collapsed.nodes} == {members[0] for members in groups.values()}
    for n in collapsed.nodes:
        members = groups[n.variant if n.variant is not None else ("token", n.id)]
        assert n.members == (tuple(members) if len(members) > 1 else ())
        assert n.text == ref.text[members[0]]
        assert n.seed == any(m in seeds for m in members)
    shown_list = groups["list"]
    assert shown_list[0] == 1 and {2, 3, 10} <= set(shown_list)  # list, List, " list", " List" drawn as one node
    assert not ({2, 3, 10} & {n.id for n in collapsed.nodes})

    best: dict = {}
    for (a, b), (score, rank) in edges.items():
        pair = (home[a], home[b])
        if pair[0] != pair[1] and (pair not in best or (score, -rank) > (best[pair][0], -best[pair][1])):
            best[pair] = (score, rank)
    got = {(e.source, e.target): (e.score, e.rank) for e in collapsed.edges}
    assert set(got) == set(best)
    for pair, (score, rank) in best.items():
        assert got[pair] == (pytest.approx(score, abs=1e-5), rank)
    assert all(e.source != e.target for e in collapsed.edges)
    render(collapsed, "json")


@pytest.fixture(scope="module")
def analysed(store):
    """The hand-made model with an analysis stored on it (made up here, not computed): (table, Analysis)."""
    from atlas.core.analysis import Analysis, Community, Measures
    from atlas.graph.writes import write_analysis

    table = hand_table(f"test-views-analysed-{uuid.uuid4().hex[:8]}")
    n = len(table)
    community = np.array([-1, 0, 0, 0, 0, 1, 2, 2, 3, 1, 0, 3, 1, 2], dtype=np.int32)  # [PAD]-like 0 has none
    xy = np.array([[np.nan, np.nan]] + [[i * 1.5, 100 - i * 0.25] for i in range(1, n)], dtype=np.float32)
    communities = [
        Community(0, 5, "list · lists", 3.0, 95.0),
        Community(1, 3, "array · table", 9.0, 97.0),
        Community(2, 3, "cat · dog", 10.5, 97.5),
        Community(3, 2, "\x1b evil", 13.5, 97.0),
    ]
    result = Analysis(
        cited=np.arange(n, dtype=np.int32) * 2,
        mutual=np.zeros((n, HAND_K), bool),
        community=community,
        xy=xy,
        communities=communities,
        links=np.zeros((0, 4)),
        modularity=0.5,
        measures=Measures(
            out_degree=np.full(n, HAND_K, np.int32),
            pagerank=np.linspace(0.01, 0.1, n),
            core=np.arange(n, dtype=np.int32) % 4,
            clustering=np.linspace(0.0, 1.0, n),
        ),
    )
    load(store, table, HAND_K)
    try:
        write_analysis(store, table.name, table.ids, result)
        yield table, result
    finally:
        store.delete_model(table.name)


def test_every_subgraph_carries_what_the_analysis_stored(store, analysed):
    table, result = analysed
    labels = {c.id: c.label for c in result.communities}

    def check(subgraph):
        assert subgraph.nodes
        for node in subgraph.nodes:
            row = int(np.flatnonzero(table.ids == node.id)[0])
            community = int(result.community[row])
            assert node.cited == int(result.cited[row])
            found = result.measures
            assert (node.out_degree, node.core) == (int(found.out_degree[row]), int(found.core[row]))
            assert (node.pagerank, node.clustering) == (float(found.pagerank[row]), float(found.clustering[row]))
            if community < 0:
                assert (node.community, node.community_label, node.x, node.y) == (None, None, None, None)
            else:
                assert (node.community, node.community_label) == (community, labels[community])
                assert (node.x, node.y) == (float(result.xy[row, 0]), float(result.xy[row, 1]))

    check(prompt_subgraph(store, table.name, [PromptToken(0, 1, "list"), PromptToken(1, 0, "<|endoftext|>")], HAND_K))
    check(atlas_subgraph(store, table.name, ["cat", "array"], 0, 0, 3)[0])
    check(query_subgraph(store, "variants", {"model": table.name, "key": "list", "k": 2}))
    collapsed = prompt_subgraph(store, table.name, [PromptToken(0, 3, "Ġlist")], HAND_K, collapse_variants=True)
    group = next(n for n in collapsed.nodes if n.variant == "list")
    assert (group.id, group.community, group.cited, group.x) == (1, 0, 2, 1.5)  # "list", the group's lowest id


# --- random words and the atlas ---------------------------------------------------------------


def test_random_words_reproducible_and_filtered(store, stored_minilm):
    table, _ = stored_minilm
    words = random_words(store, table.name, 12, seed=3)
    assert random_words(store, table.name, 12, seed=3) == words
    assert random_words(store, table.name, 12, seed=4) != words
    candidates = [
        int(i) for i, t, s in zip(table.ids.tolist(), table.text, table.special) if not s and is_word(t, "wordpiece")
    ]
    picks = np.random.default_rng(3).choice(len(candidates), size=12, replace=False)
    assert [w["id"] for w in words] == [candidates[i] for i in picks]
    assert len({w["id"] for w in words}) == 12
    for w in words:
        assert w["text"].isalpha() and len(w["text"]) >= 2 and not w["text"].startswith("##")
    every = random_words(store, table.name, len(candidates), seed=0)
    assert sorted(w["id"] for w in every) == candidates
    assert not {w["text"] for w in every} & {"[PAD]", "[CLS]", "[SEP]", "[MASK]", "[UNK]", "[unused0]"}
    with pytest.raises(InvalidArgument, match=rf"only {len(candidates)} whole-word tokens"):
        random_words(store, table.name, len(candidates) + 1, seed=0)
    with pytest.raises(InvalidArgument, match="at least 1"):
        random_words(store, table.name, 0, seed=0)


def test_random_words_byte_level_need_a_word_start(store, hand):
    table, _ = hand
    every = sorted(w["id"] for w in random_words(store, table.name, 9, seed=1))
    assert every == [3, 4, 5, 6, 7, 9, 10, 12, 13]  # " list" ... " kitten"; not "list", "List", "Ġ", specials, NASTY
    with pytest.raises(InvalidArgument, match="only 9 whole-word tokens"):
        random_words(store, table.name, 10, seed=1)


@pytest.mark.parametrize("k", [1, 4])
def test_atlas_random_words(store, stored_minilm, k):
    table, ref = stored_minilm
    subgraph, missing = atlas_subgraph(store, table.name, None, 10, 5, k)
    assert missing == []
    seeds = {w["id"] for w in random_words(store, table.name, 10, 5)}
    assert_matches(subgraph, ref, seeds, k, MINILM_K)
    assert subgraph.title == f"atlas of 10 random words (seed 5), k={k}"
    again, _ = atlas_subgraph(store, table.name, None, 10, 5, k)
    assert render(again, "json") == render(subgraph, "json")
    assert render(again, "graphml") == render(subgraph, "graphml")


def test_atlas_given_words_reports_missing(store, hand):
    table, ref = hand
    words = ["list", "nonexistentword", "cat", NASTY, "Array", "cat"]
    subgraph, missing = atlas_subgraph(store, table.name, words, 0, 0, 2)
    assert missing == ["nonexistentword"]
    # "list" -> " list" (the word-start token), "cat" -> " cat", "Array" -> " Array", NASTY as typed
    assert_matches(subgraph, ref, {3, 6, 8, 12}, 2, HAND_K)
    assert subgraph.title == f"atlas of list, cat, {NASTY}, Array, k=2"
    collapsed, _ = atlas_subgraph(store, table.name, words, 0, 0, 2, collapse_variants=True)
    assert len({n.variant for n in collapsed.nodes if n.variant}) == len([n for n in collapsed.nodes if n.variant])
    render(collapsed, "json")
    with pytest.raises(
        TokenNotFound,
        match=r"none of the words 'zzz', 'qqq' is a single token .*; `atlas neighbours WORD` names close tokens$",
    ):
        atlas_subgraph(store, table.name, ["zzz", "qqq"], 0, 0, 2)
    with pytest.raises(InvalidArgument, match="no words given"):
        atlas_subgraph(store, table.name, [], 0, 0, 2)
    with pytest.raises(InvalidArgument, match=f"loaded with k={HAND_K}"):
        atlas_subgraph(store, table.name, ["list"], 0, 0, 0)
