"""The two small models the views tests load, and a brute-force reference to check the views against.

Each test module loads them under unique names and deletes them afterwards (the fixtures
``store``, ``stored_minilm``, ``hand`` and ``article_tokens`` in conftest.py): real MiniLM pieces
(a subset of the vocabulary) with a seeded random matrix, and a hand-made byte-level BPE
vocabulary where "list", "List", " list" and " List" are variants and one token's text is a
Cypher injection attempt.
"""

from __future__ import annotations

import numpy as np
import pytest

from atlas.core.prompt_tokens import tokenize
from atlas.core.variants import readable_text, variant_key
from atlas.files.model_files import default_source, load_tokenizer
from atlas.loaders import EmbeddingTable
from atlas.pages.export import render

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

    def subgraph(
        self, seeds: set[int], k: int, model_k: int
    ) -> tuple[set[int], dict[tuple[int, int], tuple[float, int]]]:
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
    assert [(e.source, e.rank, e.target) for e in subgraph.edges] == sorted(
        (e.source, e.rank, e.target) for e in subgraph.edges
    )
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
        name=name,
        source="test",
        matrix=rng.standard_normal((len(ids), 32)).astype(np.float32),
        ids=ids,
        raw=raw,
        text=[readable_text(r, "wordpiece") for r in raw],
        special=[int(i) in specials for i in ids],
        family="wordpiece",
        matrix_rows=len(tok),
    )


HAND_RAW = [
    "<|endoftext|>",  # 0 special
    "list",
    "List",
    "Ġlist",
    "Ġlists",
    "Ġarray",
    "Ġcat",
    "Ġdog",  # 1..7
    NASTY,  # 8: text is the raw piece (a space is outside the byte alphabet)
    "Ġtable",
    "ĠList",
    "Ġ",
    "ĠArray",
    "Ġkitten",  # 9..13
]


def hand_table(name: str) -> EmbeddingTable:
    """Byte-level BPE pieces in clusters: list/List/ list/ List (and lists, arrays nearby), cat/dog/kitten."""
    rng = np.random.default_rng(11)
    d = 8
    centre = {c: rng.standard_normal(d) for c in ("list", "array", "cat", "other")}
    centre["array"] = 0.6 * centre["list"] + 0.4 * centre["array"]
    cluster = {
        1: "list",
        2: "list",
        3: "list",
        10: "list",
        4: "list",
        5: "array",
        12: "array",
        9: "array",
        6: "cat",
        7: "cat",
        13: "cat",
    }
    spread = {4: 0.5, 9: 0.8}
    matrix = np.stack(
        [
            centre[cluster.get(i, "other")] + spread.get(i, 0.15 if i in cluster else 1.0) * rng.standard_normal(d)
            for i in range(len(HAND_RAW))
        ]
    ).astype(np.float32)
    return EmbeddingTable(
        name=name,
        source="test",
        matrix=matrix,
        ids=np.arange(len(HAND_RAW), dtype=np.int64),
        raw=list(HAND_RAW),
        text=[readable_text(r, "byte_bpe") for r in HAND_RAW],
        special=[i == 0 for i in range(len(HAND_RAW))],
        family="byte_bpe",
        matrix_rows=len(HAND_RAW),
    )
