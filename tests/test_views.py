"""Views on a real Neo4j, checked against brute-force neighbours of the loaded matrix.

Two small models are loaded per module under unique names and deleted afterwards:
real MiniLM pieces (a subset of the vocabulary) with a seeded random matrix, and a
hand-made byte-level BPE vocabulary where "list", "List", " list" and " List" are
variants and one token's text is a Cypher injection attempt.
"""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from atlas.graph import queries
from atlas.errors import InvalidArgument, ModelNotLoaded, TokenNotFound
from atlas.pages.export import render
from atlas.views.lookup import find_token, find_token_by_id, variant_group
from atlas.files.model_files import default_source, load_tokenizer
from atlas.views.named import PARAM_TYPES, query_subgraph, statement_parameters, view_names, view_parameters
from atlas.views.stored_neighbours import neighbours
from atlas.core.prompt_tokens import PromptToken, tokenize
from atlas.views.neighbourhoods import atlas_subgraph, prompt_subgraph, random_words
from atlas.graph.store import Store
from atlas.core.subgraph import collapse
from atlas.core.variants import is_word, readable_text, variant_key
from atlas.graph.writes import save_prompt
from atlas.loaders import EmbeddingTable
from atlas.loaders.pipeline import load

NASTY = "'\"})MATCH (n) DETACH DELETE n //"
ARTICLE = "HTML coders are not considered programmers"
MINILM_K = 8
HAND_K = 6

# --- brute force ------------------------------------------------------------------------------


class Reference:
    """Exact neighbours of a table in float64: ``ranked[id]`` = [(neighbour id, score)] best first, all of them."""

    def __init__(self, table: EmbeddingTable):
        e = table.matrix.astype(np.float64)
        unit = e / np.linalg.norm(e, axis=1, keepdims=True)
        sims = unit @ unit.T  # (N, N): small tables only
        ids = table.ids.tolist()
        self.ranked = {}
        for row, token in enumerate(ids):
            order = [j for j in np.lexsort((np.arange(len(ids)), -sims[row])) if j != row]
            self.ranked[token] = [(ids[j], float(sims[row, j])) for j in order]
        self.key = {
            int(i): variant_key(r, table.family, s) for i, r, s in zip(table.ids.tolist(), table.raw, table.special)
        }
        self.text = dict(zip(ids, table.text))

    def nearest(self, token: int, k: int) -> list[int]:
        return [t for t, _ in self.ranked[token][:k]]

    def subgraph(self, seeds: set[int], k: int, model_k: int) -> tuple[set[int], dict[tuple[int, int], tuple[float, int]]]:
        """Nodes: seeds and their k nearest; edges: every stored (rank <= model_k) edge among the nodes."""
        nodes = set(seeds)
        for s in seeds:
            nodes.update(self.nearest(s, k))
        edges = {}
        for a in nodes:
            for rank, (b, score) in enumerate(self.ranked[a][:model_k], start=1):
                if b in nodes:
                    edges[(a, b)] = (score, rank)
        return nodes, edges


def assert_matches(subgraph, ref: Reference, seeds: set[int], k: int, model_k: int):
    nodes, edges = ref.subgraph(seeds, k, model_k)
    assert {n.id for n in subgraph.nodes} == nodes
    assert {n.id for n in subgraph.nodes if n.seed} == seeds
    for n in subgraph.nodes:
        assert n.variant == ref.key[n.id] and n.text == ref.text[n.id] and n.members == ()
    got = {(e.source, e.target): (e.score, e.rank) for e in subgraph.edges}
    assert set(got) == set(edges)
    for pair, (score, rank) in edges.items():
        assert got[pair][1] == rank
        assert got[pair][0] == pytest.approx(score, abs=1e-5)
    assert [n.id for n in subgraph.nodes] == sorted(nodes)
    assert [(e.source, e.rank, e.target) for e in subgraph.edges] == sorted((e.source, e.rank, e.target) for e in subgraph.edges)
    render(subgraph, "json")  # drawable: unique nodes and edges, every edge between nodes


# --- tables and fixtures ----------------------------------------------------------------------


def minilm_table(name: str) -> EmbeddingTable:
    """The article's tokens, [PAD], [UNK], [CLS], [SEP], [MASK], a few [unusedN] and 300 random MiniLM pieces."""
    tok = load_tokenizer(default_source())
    rng = np.random.default_rng(7)
    chosen = set(tokenize(tok, ARTICLE)[i].id for i in range(7))
    chosen |= set(tok.all_special_ids) | {1, 2, 3}
    chosen |= set(rng.choice(len(tok), size=300, replace=False).tolist())
    ids = np.array(sorted(chosen), dtype=np.int64)
    raw = tok.convert_ids_to_tokens(ids.tolist())
    specials = set(tok.all_special_ids)
    return EmbeddingTable(
        name=name, source="test", matrix=rng.standard_normal((len(ids), 32)).astype(np.float32), ids=ids,
        raw=raw, text=[readable_text(r, "wordpiece") for r in raw], special=[int(i) in specials for i in ids],
        family="wordpiece", matrix_rows=len(tok),
    )


HAND_RAW = [
    "<|endoftext|>",  # 0 special
    "list", "List", "Ġlist", "Ġlists", "Ġarray", "Ġcat", "Ġdog",  # 1..7
    NASTY,  # 8: text is the raw piece (a space is outside the byte alphabet)
    "Ġtable", "ĠList", "Ġ", "ĠArray", "Ġkitten",  # 9..13
]


def hand_table(name: str) -> EmbeddingTable:
    """Byte-level BPE pieces in clusters: list/List/ list/ List (and lists, arrays nearby), cat/dog/kitten."""
    rng = np.random.default_rng(11)
    d = 8
    centre = {c: rng.standard_normal(d) for c in ("list", "array", "cat", "other")}
    centre["array"] = 0.6 * centre["list"] + 0.4 * centre["array"]
    cluster = {1: "list", 2: "list", 3: "list", 10: "list", 4: "list", 5: "array", 12: "array", 9: "array",
               6: "cat", 7: "cat", 13: "cat"}
    spread = {4: 0.5, 9: 0.8}
    matrix = np.stack([
        centre[cluster.get(i, "other")] + spread.get(i, 0.15 if i in cluster else 1.0) * rng.standard_normal(d)
        for i in range(len(HAND_RAW))
    ]).astype(np.float32)
    return EmbeddingTable(
        name=name, source="test", matrix=matrix, ids=np.arange(len(HAND_RAW), dtype=np.int64), raw=list(HAND_RAW),
        text=[readable_text(r, "byte_bpe") for r in HAND_RAW], special=[i == 0 for i in range(len(HAND_RAW))],
        family="byte_bpe", matrix_rows=len(HAND_RAW),
    )


@pytest.fixture(scope="module")
def store(neo4j_settings):
    with Store(neo4j_settings) as store:
        yield store


def _loaded(store, table, k):
    load(store, table, k)
    try:
        yield table, Reference(table)
    finally:
        store.delete_model(table.name)


@pytest.fixture(scope="module")
def minilm(store):
    yield from _loaded(store, minilm_table(f"test-views-minilm-{uuid.uuid4().hex[:8]}"), MINILM_K)


@pytest.fixture(scope="module")
def hand(store):
    yield from _loaded(store, hand_table(f"test-views-hand-{uuid.uuid4().hex[:8]}"), HAND_K)


@pytest.fixture(scope="module")
def article_tokens():
    return tokenize(load_tokenizer(default_source()), ARTICLE)


# --- find_token, neighbours, variant groups --------------------------------------------------


def test_find_token_exact(store, minilm, hand):
    table, _ = minilm
    assert find_token(store, table.name, "programmers") == {"id": 28547, "text": "programmers", "raw": "programmers", "special": False}
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
    assert message.endswith("(use one of them, or --id)")
    # the group's tokens by id, then the prefix matches not already named (" lists")
    assert "close tokens: 'list', 'List', ' list', ' List', ' lists' (use" in message


def test_find_token_nothing_close(store, hand):
    table, _ = hand
    with pytest.raises(TokenNotFound, match=r"token 'zebra' is not in the vocabulary of .* and no token is close; check the spelling, or give --id"):
        find_token(store, table.name, "zebra")


def test_hostile_text_is_data(store, hand, minilm):
    table, _ = hand
    before = {m["model"]["name"]: m["tokens"] for m in store.models()}
    assert find_token(store, table.name, NASTY) == {"id": 8, "text": NASTY, "raw": NASTY, "special": False}
    with pytest.raises(TokenNotFound) as error:
        find_token(store, table.name, NASTY[:-3])
    assert f"close tokens: {NASTY!r} (use" in str(error.value)  # a prefix match: the typed text reached Neo4j as a value
    with pytest.raises(TokenNotFound):
        find_token(store, minilm[0].name, NASTY)
    with pytest.raises(TokenNotFound):
        variant_group(store, minilm[0].name, NASTY)
    assert variant_group(store, table.name, NASTY)["tokens"] == [{"id": 8, "text": NASTY, "raw": NASTY}]
    with pytest.raises(InvalidArgument, match="found no tokens"):
        query_subgraph(store, "view_neighbourhood", {"model": table.name, "text": NASTY + " ", "k": 2})
    assert {m["model"]["name"]: m["tokens"] for m in store.models()} == before


def test_unknown_model(store):
    with pytest.raises(ModelNotLoaded, match="is not loaded"):
        find_token(store, f"no-such-model-{uuid.uuid4().hex}", "list")


@pytest.mark.parametrize("k", [1, 3, MINILM_K])
def test_neighbours_match_brute_force(store, minilm, k):
    table, ref = minilm
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
    for rank, (other, score) in enumerate(ref.ranked[token][:HAND_K], start=1):
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
    with pytest.raises(InvalidArgument, match=rf"k must be between 1 and {HAND_K} \(model '.*' was loaded with k={HAND_K}\), got 7"):
        neighbours(store, table.name, 1, HAND_K + 1)
    with pytest.raises(InvalidArgument, match="got 0"):
        neighbours(store, table.name, 1, 0)
    with pytest.raises(TokenNotFound, match="token id 99 is not stored"):
        neighbours(store, table.name, 99, 2)


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
    with pytest.raises(TokenNotFound, match=r"no token of .* spells 'arr' \(variant key 'arr'\); close tokens: ' Array', ' array'$"):
        variant_group(store, table.name, "arr")
    with pytest.raises(InvalidArgument, match="only whitespace"):
        variant_group(store, table.name, "  ")


# --- prompt subgraph --------------------------------------------------------------------------


@pytest.mark.parametrize("k", [1, 3, MINILM_K])
def test_prompt_subgraph_matches_brute_force(store, minilm, article_tokens, k):
    table, ref = minilm
    subgraph = prompt_subgraph(store, table.name, article_tokens, k)
    assert subgraph.model == table.name
    assert subgraph.title == "prompt html|code|##rs|are|not|considered|programmers"
    assert_matches(subgraph, ref, {t.id for t in article_tokens}, k, MINILM_K)
    # more than the seed -> neighbour edges: some edge starts at a neighbour
    seeds = {t.id for t in article_tokens}
    if k > 1:
        assert any(e.source not in seeds for e in subgraph.edges)


def test_prompt_subgraph_repeated_and_special_tokens(store, minilm):
    table, ref = minilm
    tokens = [PromptToken(0, 101, "[CLS]"), PromptToken(1, 2024, "are"), PromptToken(2, 2024, "are"), PromptToken(3, 102, "[SEP]")]
    subgraph = prompt_subgraph(store, table.name, tokens, 2, title="are are")
    assert subgraph.title == "are are"
    assert_matches(subgraph, ref, {101, 2024, 102}, 2, MINILM_K)
    specials = {n.id for n in subgraph.nodes if n.special}
    assert {101, 102} <= specials


def test_prompt_subgraph_is_deterministic(store, minilm, article_tokens):
    table, _ = minilm
    first = render(prompt_subgraph(store, table.name, article_tokens, 5, title="t"), "json")
    assert render(prompt_subgraph(store, table.name, article_tokens, 5, title="t"), "json") == first
    assert render(prompt_subgraph(store, table.name, article_tokens[::-1], 5, title="t"), "json") == first


def test_prompt_subgraph_errors(store, minilm, article_tokens):
    table, _ = minilm
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


def test_collapse_merges_parallel_edges_keeping_best():
    from atlas.core.subgraph import Edge, Node, Subgraph

    g = Subgraph("m", "t", [
        Node(3, " list", variant="list", seed=True), Node(1, "list", variant="list"), Node(5, "cat", variant="cat"),
        Node(8, " cat", variant="cat"), Node(0, "<s>", special=True),
    ], [
        Edge(1, 3, 0.99, 1), Edge(3, 1, 0.99, 1),  # inside a group: dropped
        Edge(1, 5, 0.40, 3), Edge(3, 8, 0.70, 2), Edge(3, 5, 0.70, 1),  # merged: 0.70, the lower rank wins the tie
        Edge(8, 1, 0.30, 4), Edge(0, 8, 0.10, 2),
    ])
    c = collapse(g)
    assert [(n.id, n.text, n.members, n.seed) for n in c.nodes] == [
        (0, "<s>", (), False), (1, "list", (1, 3), True), (5, "cat", (5, 8), False)
    ]
    assert [(e.source, e.target, e.score, e.rank) for e in c.edges] == [(0, 5, 0.10, 2), (1, 5, 0.70, 1), (5, 1, 0.30, 4)]


def test_subgraph_rows_carry_the_analysis_and_collapse_keeps_the_representatives():
    from atlas.core.subgraph import Node, subgraph_from_rows

    rows = [{
        "nodes": [
            {"id": 4, "text": " List", "variant": "list", "community": 2, "community_label": "list · array", "cited": 9,
             "x": -1.5, "y": 2.0},
            {"id": 1, "text": "list", "variant": "list", "seed": True, "community": 0, "community_label": "list",
             "cited": 30, "x": 12, "y": 7.25},
            {"id": 7, "text": "cat"},  # before an analysis: none of it
            {"id": 9, "text": "[PAD]", "special": True, "cited": 0, "community": None, "x": float("nan"), "y": None},
        ],
        "edges": [],
    }]
    g = subgraph_from_rows("m", "t", rows, "test")
    by_id = {n.id: n for n in g.nodes}
    assert by_id[1] == Node(1, "list", variant="list", seed=True, community=0, community_label="list", cited=30, x=12.0, y=7.25)
    assert type(by_id[1].x) is float and type(by_id[1].community) is int
    assert (by_id[7].community, by_id[7].community_label, by_id[7].cited, by_id[7].x, by_id[7].y) == (None,) * 5
    assert (by_id[9].cited, by_id[9].x) == (0, None)  # a non-finite position is no position
    (group, cat, pad) = collapse(g).nodes
    assert (group.id, group.members, group.community, group.community_label, group.cited, group.x, group.y) == (
        1, (1, 4), 0, "list", 30, 12.0, 7.25)


@pytest.fixture(scope="module")
def analysed(store):
    """The hand-made model with an analysis stored on it (made up here, not computed): (table, Analysis)."""
    from atlas.core.analysis import Analysis, Community
    from atlas.graph.writes import write_analysis

    table = hand_table(f"test-views-analysed-{uuid.uuid4().hex[:8]}")
    n = len(table)
    community = np.array([-1, 0, 0, 0, 0, 1, 2, 2, 3, 1, 0, 3, 1, 2], dtype=np.int32)  # [PAD]-like 0 has none
    xy = np.array([[np.nan, np.nan]] + [[i * 1.5, 100 - i * 0.25] for i in range(1, n)], dtype=np.float32)
    communities = [Community(0, 5, "list · lists", 3.0, 95.0), Community(1, 3, "array · table", 9.0, 97.0),
                   Community(2, 3, "cat · dog", 10.5, 97.5), Community(3, 2, "\x1b evil", 13.5, 97.0)]
    result = Analysis(
        cited=np.arange(n, dtype=np.int32) * 2, mutual=np.zeros((n, HAND_K), bool), community=community, xy=xy,
        communities=communities, links=np.zeros((0, 4)), modularity=0.5,
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


# --- save_prompt ------------------------------------------------------------------------------


def test_save_prompt(store, minilm, article_tokens, neo4j_driver, neo4j_settings):
    table, _ = minilm
    text = ARTICLE + " " + NASTY + " \\ \n"
    browse = save_prompt(store, table.name, text, article_tokens)
    assert "\n" not in browse and browse.startswith("MATCH (p:Prompt")

    def shown():
        records, _, _ = neo4j_driver.execute_query(browse, database_=neo4j_settings.database)
        assert {r["p"]["text"] for r in records} == {text}
        return [(r["h"]["position"], r["t"]["id"]) for r in records]

    assert shown() == [(t.position, t.id) for t in article_tokens]
    save_prompt(store, table.name, text, article_tokens)  # again: nothing changes
    assert shown() == [(t.position, t.id) for t in article_tokens]
    tokenizer = load_tokenizer(default_source())
    with_special = tokenize(tokenizer, ARTICLE, include_special=True)
    save_prompt(store, table.name, text, with_special)  # other tokens: links replaced
    assert shown() == [(t.position, t.id) for t in with_special]


def test_save_prompt_errors(store, minilm):
    table, _ = minilm
    with pytest.raises(InvalidArgument, match="no tokens"):
        save_prompt(store, table.name, "", [])
    with pytest.raises(TokenNotFound, match="prompt token 5 is not stored"):
        save_prompt(store, table.name, "x", [PromptToken(0, 5, "[unused4]")])


# --- random words and the atlas ---------------------------------------------------------------


def test_is_word_rules():
    assert [is_word(t, "wordpiece") for t in ["list", "##list", "[unused3]", "a", "x2", "straße", "日本"]] == [
        True, False, False, False, False, True, True]
    assert [is_word(t, "byte_bpe") for t in [" list", "list", " a", "  list", " C++", " Ünïcode"]] == [
        True, False, False, False, False, True]
    assert [is_word(t, "sentencepiece") for t in [" list", "list"]] == [True, False]


def test_random_words_reproducible_and_filtered(store, minilm):
    table, _ = minilm
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
def test_atlas_random_words(store, minilm, k):
    table, ref = minilm
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
    with pytest.raises(TokenNotFound, match="none of the words 'zzz', 'qqq' is a single token .*; `atlas neighbours WORD` names close tokens$"):
        atlas_subgraph(store, table.name, ["zzz", "qqq"], 0, 0, 2)
    with pytest.raises(InvalidArgument, match="no words given"):
        atlas_subgraph(store, table.name, [], 0, 0, 2)
    with pytest.raises(InvalidArgument, match=f"loaded with k={HAND_K}"):
        atlas_subgraph(store, table.name, ["list"], 0, 0, 0)


# --- named queries ----------------------------------------------------------------------------


def test_view_files_follow_the_contract():
    assert {"view_neighbourhood", "view_variants"} <= set(view_names())
    for name in view_names():
        declared = view_parameters(name)
        assert [p.name for p in declared][0] == "model"
        assert {p.name for p in declared} == set(statement_parameters(name)), name
        assert all(p.type in PARAM_TYPES for p in declared)
        assert queries.header(name).splitlines()[0], f"{name} has no description"
    assert [(p.name, p.type, p.default, p.required) for p in view_parameters("neighbourhood")] == [
        ("model", "string", None, True), ("text", "string", None, True), ("k", "integer", 10, False)]


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


def test_view_variants(store, hand, minilm):
    table, ref = hand
    subgraph = query_subgraph(store, "view_variants", {"model": table.name, "key": "list", "k": 2})
    assert_matches(subgraph, ref, {1, 2, 3, 10}, 2, HAND_K)
    default = query_subgraph(store, "variants", {"model": table.name, "key": "list"})
    assert_matches(default, ref, {1, 2, 3, 10}, 5, HAND_K)
    m_table, m_ref = minilm
    group = {i for i, key in m_ref.key.items() if key == "are"}
    assert query_subgraph(store, "variants", {"model": m_table.name, "key": "are", "k": 1}).node_ids() >= group


def test_query_subgraph_errors(store, hand):
    table, _ = hand
    with pytest.raises(InvalidArgument, match=r"unknown view 'nope'; available views: .*view_neighbourhood.*view_variants"):
        query_subgraph(store, "nope", {"model": table.name})
    with pytest.raises(InvalidArgument, match=r"unknown view 'model_delete_batch'"):
        query_subgraph(store, "model_delete_batch", {"model": table.name, "limit": 1})
    with pytest.raises(InvalidArgument, match=r"view view_variants needs the parameter 'key' \(string\); give it as key=VALUE"):
        query_subgraph(store, "variants", {"model": table.name})
    with pytest.raises(InvalidArgument, match=r"needs the parameter 'model'"):
        query_subgraph(store, "variants", {"key": "list"})
    with pytest.raises(InvalidArgument, match=r"view view_variants takes no parameter 'text'; its parameters: model, key, k"):
        query_subgraph(store, "variants", {"model": table.name, "key": "list", "text": "x"})
    with pytest.raises(InvalidArgument, match=r"parameter k of view_variants must be an integer, got 'two'"):
        query_subgraph(store, "variants", {"model": table.name, "key": "list", "k": "two"})
    with pytest.raises(InvalidArgument, match=f"loaded with k={HAND_K}"):
        query_subgraph(store, "variants", {"model": table.name, "key": "list", "k": HAND_K + 1})
    with pytest.raises(InvalidArgument, match=r"found no tokens in model .* for key='zebra', k=5"):
        query_subgraph(store, "variants", {"model": table.name, "key": "zebra"})
    with pytest.raises(ModelNotLoaded):
        query_subgraph(store, "variants", {"model": f"no-such-{uuid.uuid4().hex}", "key": "list"})
