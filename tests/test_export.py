"""Exporters: every format on a small subgraph with hostile token text, checked by independent readers."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import re
import uuid
from typing import ClassVar

import networkx as nx
import pytest

from atlas.core.cypher_text import cypher_string, split_statements
from atlas.core.subgraph import Edge, Node, Subgraph
from atlas.core.token_text import display_text, escape_controls, script_json, visible_text
from atlas.errors import ExportError
from atlas.graph.queries import browser_line
from atlas.pages.export import (
    EDGE_FIELDS,
    FORMATS,
    NODE_FIELDS,
    community_legend,
    components,
    output_paths,
    render,
    variant_groups,
    write,
)

NASTY = '</script><b>"x"&\''
BIDI = "\u202egnp\u2066\u200f\u061c.exe"  # right-to-left override, isolate, mark, Arabic letter mark
COMMUNITY = "</script> · \x1b[2J · \u202eevil"  # a community label made of hostile token texts


def sample() -> Subgraph:
    """Seven tokens: markup, newline, tab, NUL/ESC, a lone backslash, emoji, a quote; groups and seeds;
    communities (one with a hostile label), in-degrees and map positions, and tokens an analysis left without."""
    nodes = [
        Node(
            5,
            NASTY,
            raw="Ġ</script>",
            seed=True,
            community=0,
            community_label=COMMUNITY,
            cited=12,
            out_degree=2,
            pagerank=0.1 + 0.2,
            core=3,
            clustering=1 / 3,
            x=1.5,
            y=-2.25,
        ),
        Node(
            2,
            "line\nbreak\r",
            raw="line\nbreak\r",
            variant="line",
            members=(2, 40, 41),
            community=3,
            community_label="line · break",
            cited=0,
            x=0.1 + 0.2,
            y=1e-07,
        ),
        Node(
            9,
            "\ttab",
            raw="\ttab",
            variant="line",
            community=3,
            community_label="line · break",
            cited=1,
            x=-0.0,
            y=42.0,
        ),
        Node(3, "nul\x00esc\x1b", raw="\x00\x1b", special=True),
        Node(
            7,
            "\\",
            raw="\\",
            seed=True,
            variant="back",
            community=0,
            community_label=COMMUNITY,
            cited=4,
            x=-10.0,
            y=99.5,
        ),
        Node(11, "🙂 ok\u2028", raw="🙂", variant="emoji", cited=0),
        Node(
            4,
            "'",
            raw="'",
            community=12,
            community_label="'",
            cited=2,
            out_degree=0,
            pagerank=1e-07,
            core=0,
            clustering=0.0,
            x=3.0,
            y=4.0,
        ),
    ]
    edges = [
        Edge(5, 2, 0.8125, 1),
        Edge(5, 9, 0.1 + 0.2, 2),
        Edge(2, 5, 0.8125, 1),
        Edge(9, 3, 1e-05, 1),
        Edge(3, 9, -0.25, 1),
        Edge(7, 11, 0.999999999, 1),
        Edge(11, 7, 0.999999999, 1),
        Edge(7, 4, 1 / 3, 2),
    ]
    return Subgraph(model="gpt2 'tiny'", title='prompt "a\\b" </script>', nodes=nodes, edges=edges)


def records(subgraph: Subgraph):
    """The expected node and edge records, in export order."""
    nodes = [
        {
            "id": n.id,
            "text": n.text,
            "raw": n.raw,
            "special": n.special,
            "variant": n.variant,
            "seed": n.seed,
            "members": list(n.members),
            "community": n.community,
            "community_label": n.community_label,
            "cited": n.cited,
            "out_degree": n.out_degree,
            "pagerank": n.pagerank,
            "core": n.core,
            "clustering": n.clustering,
            "x": n.x,
            "y": n.y,
        }
        for n in sorted(subgraph.nodes, key=lambda n: n.id)
    ]
    edges = [
        {"source": e.source, "target": e.target, "score": e.score, "rank": e.rank}
        for e in sorted(subgraph.edges, key=lambda e: (e.source, e.rank, e.target))
    ]
    return nodes, edges


# --- json --------------------------------------------------------------------------------


def test_json_holds_every_field_exactly_in_order():
    data = json.loads(render(sample(), "json")[""])
    nodes, edges = records(sample())
    assert data["directed"] is True and data["multigraph"] is False
    assert data["graph"] == {"model": "gpt2 'tiny'", "title": 'prompt "a\\b" </script>'}
    assert data["nodes"] == nodes
    assert data["links"] == edges


def test_json_reads_as_a_networkx_digraph():
    graph = nx.node_link_graph(json.loads(render(sample(), "json")[""]), edges="links")
    assert isinstance(graph, nx.DiGraph)
    assert graph.number_of_nodes() == 7 and graph.number_of_edges() == 8
    assert graph.nodes[3]["text"] == "nul\x00esc\x1b"
    assert graph.nodes[2]["members"] == [2, 40, 41]
    assert graph.edges[5, 9] == {"score": 0.1 + 0.2, "rank": 2}


# --- graphml -----------------------------------------------------------------------------


@pytest.fixture
def graphml_graph(tmp_path):
    (path,) = write(sample(), "graphml", str(tmp_path / "g.graphml"))
    return nx.read_graphml(path, node_type=int)


def test_graphml_agrees_with_json(graphml_graph):
    data = json.loads(render(sample(), "json")[""])
    assert graphml_graph.is_directed()
    assert graphml_graph.number_of_nodes() == len(data["nodes"])
    assert graphml_graph.number_of_edges() == len(data["links"])
    for link in data["links"]:
        attrs = graphml_graph.edges[link["source"], link["target"]]
        assert type(attrs["score"]) is float and attrs["score"] == link["score"]
        assert type(attrs["rank"]) is int and attrs["rank"] == link["rank"]
    for node in data["nodes"]:
        attrs = graphml_graph.nodes[node["id"]]
        assert attrs["text"] == visible_text(node["text"])
        assert attrs["raw"] == visible_text(node["raw"])
        assert attrs["special"] is node["special"] and attrs["seed"] is node["seed"]
        assert attrs.get("variant") == node["variant"]
        assert attrs["members"] == " ".join(map(str, node["members"]))
        assert attrs["label"] == display_text(node["text"])
        measures = (("out_degree", int), ("pagerank", float), ("core", int), ("clustering", float))
        for key, kind in (("community", int), ("cited", int), *measures, ("x", float), ("y", float)):
            if node[key] is None:
                assert key not in attrs  # omitted, not written as an empty or zero value
            else:
                assert type(attrs[key]) is kind and attrs[key] == node[key]
        if node["community_label"] is None:
            assert "community_label" not in attrs
        else:
            assert attrs["community_label"] == visible_text(node["community_label"])
    assert (graphml_graph.graph["model"], graphml_graph.graph["title"]) == ("gpt2 'tiny'", 'prompt "a\\b" </script>')


def test_graphml_keeps_markup_whitespace_and_makes_illegal_characters_visible(graphml_graph):
    assert graphml_graph.nodes[5]["text"] == NASTY
    assert graphml_graph.nodes[2]["text"] == "line\nbreak\r"
    assert graphml_graph.nodes[9]["text"] == "\ttab"
    assert graphml_graph.nodes[3]["text"] == "nul\\x00esc\\x1b"
    assert graphml_graph.nodes[7]["text"] == "\\"
    assert graphml_graph.nodes[11]["text"] == "🙂 ok\u2028"


def test_graphml_declares_typed_keys():
    text = render(sample(), "graphml")[""]
    declared = dict(re.findall(r'<key id="[^"]+" for="(?:node|edge)" attr.name="([^"]+)" attr.type="([^"]+)"/>', text))
    assert declared == {
        "text": "string",
        "raw": "string",
        "special": "boolean",
        "variant": "string",
        "seed": "boolean",
        "members": "string",
        "label": "string",
        "community": "int",
        "community_label": "string",
        "cited": "int",
        "out_degree": "int",
        "pagerank": "double",
        "core": "int",
        "clustering": "double",
        "x": "double",  # Gephi's GraphML importer places nodes by the keys named x and y
        "y": "double",
        "score": "double",
        "rank": "int",
    }
    assert '<graph id="G" edgedefault="directed">' in text


def test_visible_text_escapes_only_what_xml_cannot_hold():
    assert visible_text("a\x00\x08\x0b\x0c\x1f\t\n\r\x7f\ufffe é") == "a\\x00\\x08\\x0b\\x0c\\x1f\t\n\r\x7f\\ufffe é"


# --- csv ---------------------------------------------------------------------------------


def test_csv_round_trips_through_csv_reader():
    parts = render(sample(), "csv")
    assert set(parts) == {"nodes", "edges"}
    nodes, edges = records(sample())
    node_rows = list(csv.reader(io.StringIO(parts["nodes"], newline="")))
    assert node_rows[0] == [
        "id",
        "text",
        "raw",
        "special",
        "variant",
        "seed",
        "members",
        "community",
        "cited",
        "out_degree",
        "pagerank",
        "core",
        "clustering",
        "x",
        "y",
    ]
    assert node_rows[1:] == [
        [
            str(n["id"]),
            n["text"],
            n["raw"],
            "true" if n["special"] else "false",
            n["variant"] or "",
            "true" if n["seed"] else "false",
            " ".join(map(str, n["members"])),
            "" if n["community"] is None else str(n["community"]),
            "" if n["cited"] is None else str(n["cited"]),
            "" if n["out_degree"] is None else str(n["out_degree"]),
            "" if n["pagerank"] is None else repr(n["pagerank"]),
            "" if n["core"] is None else str(n["core"]),
            "" if n["clustering"] is None else repr(n["clustering"]),
            "" if n["x"] is None else repr(n["x"]),
            "" if n["y"] is None else repr(n["y"]),
        ]
        for n in nodes
    ]
    assert [float(row[13]) for row in node_rows[1:] if row[13]] == [n["x"] for n in nodes if n["x"] is not None]
    edge_rows = list(csv.reader(io.StringIO(parts["edges"], newline="")))
    assert edge_rows[0] == ["source", "target", "score", "rank"]
    assert [(int(s), int(t), float(score), int(r)) for s, t, score, r in edge_rows[1:]] == [
        (e["source"], e["target"], e["score"], e["rank"]) for e in edges
    ]


def test_csv_files_are_named_after_out(tmp_path):
    assert output_paths("csv", "atlas.csv") == {"nodes": "atlas.nodes.csv", "edges": "atlas.edges.csv"}
    assert output_paths("csv", "a/b") == {"nodes": "a/b.nodes.csv", "edges": "a/b.edges.csv"}
    assert output_paths("json", "x.csv") == {"": "x.csv"}
    paths = write(sample(), "csv", str(tmp_path / "atlas.csv"))
    assert paths == [str(tmp_path / "atlas.nodes.csv"), str(tmp_path / "atlas.edges.csv")]
    parts = render(sample(), "csv")
    with open(paths[0], newline="", encoding="utf-8") as f:
        assert f.read() == parts["nodes"]
    with open(paths[1], newline="", encoding="utf-8") as f:
        assert f.read() == parts["edges"]
    assert sorted(os.listdir(tmp_path)) == ["atlas.edges.csv", "atlas.nodes.csv"]


# --- html --------------------------------------------------------------------------------


def test_html_token_text_cannot_break_out_of_the_data_element():
    page = render(sample(), "html")[""]
    assert "<b>" not in page
    assert page.lower().count("</script") == 3  # the data, the library and the viewer script
    assert "\u2028" not in page and "\u2029" not in page
    match = re.search(r'<script type="application/json" id="graph-data">(.*?)</script>', page, re.S)
    data = json.loads(match.group(1))
    nodes, edges = records(sample())
    assert [{k: n[k] for k in nodes[0]} for n in data["nodes"]] == nodes
    assert data["links"] == edges
    assert (data["model"], data["title"]) == ("gpt2 'tiny'", 'prompt "a\\b" </script>')
    assert [n["label"] for n in data["nodes"]] == [display_text(n["text"]) for n in nodes]


def test_html_is_self_contained():
    page = render(sample(), "html")[""]
    assert not re.search(r"<(?:script|link|img|iframe)[^>]+(?:src|href)=", page, re.I)
    assert "ForceGraph" in page  # the library is inlined
    assert "innerHTML" not in page[page.rindex("<script>") :]  # the viewer writes text only via textContent


def test_html_marks_components_groups_and_degree():
    page = render(sample(), "html")[""]
    data = json.loads(re.search(r'id="graph-data">(.*?)</script>', page, re.S).group(1))
    by_id = {n["id"]: n for n in data["nodes"]}
    assert {i: by_id[i]["component"] for i in by_id} == components(sample().nodes, sample().edges)
    assert by_id[5]["degree"] == 3 and by_id[4]["degree"] == 1
    assert by_id[2]["group"] == by_id[9]["group"] == 0  # "line": two nodes, one of them a group of three
    assert by_id[7]["group"] is None and by_id[5]["group"] is None


def test_html_carries_communities_for_the_legend_and_the_panel():
    page = render(sample(), "html")[""]
    data = json.loads(re.search(r'id="graph-data">(.*?)</script>', page, re.S).group(1))
    by_id = {n["id"]: n for n in data["nodes"]}
    assert by_id[5]["communityLabel"] == escape_controls(COMMUNITY) and "\x1b" not in by_id[5]["communityLabel"]
    assert by_id[3]["communityLabel"] is None and by_id[3]["community"] is None
    assert (by_id[5]["x"], by_id[5]["y"], by_id[5]["cited"]) == (1.5, -2.25, 12)  # the layout starts from these
    # most nodes first, ties by id; nodes without a community left out
    assert data["communities"] == [
        {"id": 0, "label": escape_controls(COMMUNITY), "nodes": 2},
        {"id": 3, "label": "line · break", "nodes": 2},
        {"id": 12, "label": "'", "nodes": 1},
    ]
    assert community_legend([]) == []


def test_community_colours_are_the_vocabulary_maps():
    from importlib import resources

    static = resources.files("atlas").joinpath("static")
    graph = static.joinpath("graph.html").read_text(encoding="utf-8")
    vocabulary_map = static.joinpath("map.html").read_text(encoding="utf-8").splitlines()
    palette = graph[graph.index("  const FIRST = [") : graph.index("  window.atlasCommunityColour")].splitlines()
    assert len(palette) >= 10
    for line in palette:  # the same palette and formula, line for line; only the function's name differs
        assert line.replace("function communityColour(", "function colour(") in vocabulary_map, line


def test_script_json_escapes_markup_and_line_separators():
    text = script_json({"t": "</script><!--&\u2028\u2029"})
    assert not set(text) & set("<>&\u2028\u2029")
    assert json.loads(text) == {"t": "</script><!--&\u2028\u2029"}


def test_display_text_shows_spaces_and_control_characters():
    assert display_text(" a\nb\t\x00\x1b\x85") == "␣a\\nb\\t\\x00\\x1b\\x85"
    assert display_text("") == "∅"
    assert display_text("🙂") == "🙂"


def test_components_match_networkx():
    rng = random.Random(3)
    for _ in range(20):
        nodes = [Node(i, str(i)) for i in rng.sample(range(100), 30)]
        ids = [n.id for n in nodes]
        edges = list({(a, b): Edge(a, b, 0.5, 1) for a, b in (rng.sample(ids, 2) for _ in range(20))}.values())
        got = components(nodes, edges)
        graph = nx.Graph()
        graph.add_nodes_from(ids)
        graph.add_edges_from((e.source, e.target) for e in edges)
        want = sorted(nx.connected_components(graph), key=lambda c: (-len(c), min(c)))
        assert [{i for i in ids if got[i] == number} for number in range(len(want))] == want


def test_variant_groups_need_two_tokens():
    nodes = [
        Node(1, "a", variant="a"),
        Node(2, "A", variant="a"),
        Node(3, "b", variant="b"),
        Node(4, "c", variant="c", members=(4, 8)),
        Node(5, "d"),
    ]
    assert variant_groups(nodes) == {1: 0, 2: 0, 3: None, 4: 1, 5: None}


# --- cypher ------------------------------------------------------------------------------


class CypherLiterals:
    """A reader for Cypher literal values (maps, lists, strings, numbers, booleans, null)."""

    ESCAPES: ClassVar[dict[str, str]] = {
        "\\": "\\",
        "'": "'",
        '"': '"',
        "n": "\n",
        "r": "\r",
        "t": "\t",
        "b": "\b",
        "f": "\f",
    }

    def __init__(self, text: str):
        self.text, self.i = text, 0

    def skip(self):
        while self.text[self.i].isspace():
            self.i += 1

    def value(self):
        self.skip()
        c = self.text[self.i]
        if c in "'\"":
            return self.string(c)
        if c == "[":
            return self.sequence("]", self.value)
        if c == "{":
            return dict(self.sequence("}", self.pair))
        for word, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(word, self.i):
                self.i += len(word)
                return value
        number = re.compile(r"-?\d+(\.\d+)?([eE]-?\d+)?").match(self.text, self.i)
        self.i = number.end()
        return float(number.group()) if number.group(1) or number.group(2) else int(number.group())

    def sequence(self, close, item):
        self.i += 1
        items = []
        self.skip()
        while self.text[self.i] != close:
            items.append(item())
            self.skip()
            if self.text[self.i] == ",":
                self.i += 1
                self.skip()
        self.i += 1
        return items

    def pair(self):
        key = re.compile(r"[A-Za-z_]\w*").match(self.text, self.i)
        self.i = key.end()
        self.skip()
        assert self.text[self.i] == ":"
        self.i += 1
        return key.group(), self.value()

    def string(self, quote):
        out, self.i = [], self.i + 1
        while self.text[self.i] != quote:
            c = self.text[self.i]
            assert c != "\n", "a string literal spans lines"
            if c == "\\":
                code = self.text[self.i + 1]
                if code == "u":
                    out.append(chr(int(self.text[self.i + 2 : self.i + 6], 16)))
                    self.i += 6
                    continue
                out.append(self.ESCAPES[code])
                self.i += 2
                continue
            out.append(c)
            self.i += 1
        self.i += 1
        return "".join(out)


def token_rows(nodes: list[dict]) -> list[dict]:
    """What the Cypher script sets on each Token: a node record but the community's label (a Community property)."""
    return [{k: v for k, v in n.items() if k != "community_label"} for n in nodes]


def unwound_rows(statement: str):
    assert statement.startswith("UNWIND ")
    return CypherLiterals(statement[len("UNWIND ") :]).value()


def test_cypher_script_literals_decode_to_the_exact_records():
    statements = split_statements(render(sample(), "cypher")[""])
    assert len(statements) == 3
    assert statements[0].endswith(
        "CREATE CONSTRAINT token_model_id IF NOT EXISTS\nFOR (t:Token) REQUIRE (t.model, t.id) IS UNIQUE"
    )
    nodes, edges = records(sample())
    assert unwound_rows(statements[1]) == token_rows(nodes)
    assert unwound_rows(statements[2]) == edges
    assert "MERGE (t:Token {model: 'gpt2 \\'tiny\\'', id: row.id})" in statements[1]
    assert "MERGE (a)-[r:SIMILAR_TO]->(b)" in statements[2]


def test_cypher_script_batches_large_subgraphs():
    nodes = [Node(i, f"t{i};") for i in range(1201)]
    edges = [Edge(i, i + 1, 0.5, 1) for i in range(1200)]
    statements = split_statements(render(Subgraph("m", "t", nodes, edges), "cypher")[""])
    assert len(statements) == 1 + 3 + 3
    assert sum(len(unwound_rows(s)) for s in statements[1:4]) == 1201
    assert sum(len(unwound_rows(s)) for s in statements[4:]) == 1200


def test_cypher_string_escapes():
    assert cypher_string("a'b\"c\\d") == "'a\\'b\\\"c\\\\d'"
    assert cypher_string("\n\r\t\b\f\x00\x1b\u2028🙂") == "'\\n\\r\\t\\b\\f\\u0000\\u001b\\u2028🙂'"
    for text in (NASTY, "\\", "'", "\\'", "x\\", "\x00\x7f\x9f", BIDI):
        assert CypherLiterals(cypher_string(text)).value() == text


def test_cypher_string_escapes_bidi_controls():
    # A Browser query holding a prompt is printed on a terminal: nothing in it may reorder the line.
    assert cypher_string(BIDI) == "'\\u202egnp\\u2066\\u200f\\u061c.exe'"
    assert browser_line("browser_prompt", model="m", text=BIDI).isprintable()


def test_cypher_exponents_have_no_plus_sign():
    script = render(Subgraph("m", "t", [Node(1, "a"), Node(2, "b")], [Edge(1, 2, 1e20, 1)]), "cypher")[""]
    assert "score: 1e20," in script


def test_split_statements_respects_strings_comments_and_names():
    script = (
        "// header; not a statement\n"
        "RETURN 'a;b' AS `x;y`;\n"
        'RETURN "c\\";d" /* ; */ AS z;\n'
        "/* only a comment */;\n"
        "RETURN 'it\\'s;' // trailing ;\n"
    )
    assert split_statements(script) == [
        "// header; not a statement\nRETURN 'a;b' AS `x;y`",
        'RETURN "c\\";d" /* ; */ AS z',
        "RETURN 'it\\'s;' // trailing ;",
    ]
    assert split_statements("  \n// nothing\n") == []


def test_cypher_script_recreates_the_subgraph_in_neo4j(neo4j_driver):
    subgraph = sample()
    subgraph.model = f"test-export-{uuid.uuid4().hex[:8]} 'q'\\"
    subgraph.nodes.append(Node(12, BIDI, raw=BIDI))
    nodes, edges = records(subgraph)
    try:
        for _ in range(2):  # the script MERGEs, so a second run changes nothing
            for statement in split_statements(render(subgraph, "cypher")[""]):
                neo4j_driver.execute_query(statement, database_="neo4j")
        got_nodes, _, _ = neo4j_driver.execute_query(
            "MATCH (t:Token {model: $model})"
            " RETURN t {.id, .text, .raw, .special, .variant, .seed, .members, .community, .cited,"
            " .out_degree, .pagerank, .core, .clustering, .x, .y} AS t"
            " ORDER BY t.id",
            model=subgraph.model,
            database_="neo4j",
        )
        got_edges, _, _ = neo4j_driver.execute_query(
            "MATCH (a:Token {model: $model})-[r:SIMILAR_TO]->(b) "
            "RETURN a.id AS source, b.id AS target, r.score AS score, r.rank AS rank ORDER BY source, rank, target",
            model=subgraph.model,
            database_="neo4j",
        )
        assert [dict(r["t"]) for r in got_nodes] == token_rows(nodes)
        assert [dict(r) for r in got_edges] == edges
    finally:
        neo4j_driver.execute_query(
            "MATCH (t:Token {model: $model}) DETACH DELETE t", model=subgraph.model, database_="neo4j"
        )


# --- every format: determinism, errors, writing ------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_is_deterministic_and_independent_of_input_order(fmt):
    first = render(sample(), fmt)
    shuffled = sample()
    random.Random(1).shuffle(shuffled.nodes)
    random.Random(2).shuffle(shuffled.edges)
    assert render(sample(), fmt) == first
    assert render(shuffled, fmt) == first


@pytest.mark.parametrize("fmt", FORMATS)
def test_empty_subgraph_renders(fmt):
    parts = render(Subgraph("m", "empty"), fmt)
    if fmt == "json":
        data = json.loads(parts[""])
        assert (data["nodes"], data["links"], data["graph"]) == ([], [], {"model": "m", "title": "empty"})
    elif fmt == "graphml":
        graph = nx.read_graphml(io.BytesIO(parts[""].encode()))
        assert (graph.number_of_nodes(), graph.number_of_edges(), graph.graph["title"]) == (0, 0, "empty")
    elif fmt == "csv":
        assert parts == {"nodes": ",".join(NODE_FIELDS) + "\r\n", "edges": ",".join(EDGE_FIELDS) + "\r\n"}
    elif fmt == "cypher":
        statements = split_statements(parts[""])
        assert len(statements) == 1 and "CREATE CONSTRAINT" in statements[0]
    else:
        data = json.loads(re.search(r'id="graph-data">(.*?)</script>', parts[""], re.S).group(1))
        assert (data["nodes"], data["links"], data["title"]) == ([], [], "empty")


def test_unknown_format_is_refused():
    with pytest.raises(
        ExportError, match="unknown export format 'svg'; choose one of html, graphml, json, csv, cypher"
    ):
        render(sample(), "svg")


@pytest.mark.parametrize(
    "nodes, edges, message",
    [
        ([Node(1, "a"), Node(1, "b")], [], "token 1 appears twice"),
        ([Node(1, "a")], [Edge(1, 2, 0.5, 1)], "ends at token 2, which is not a node"),
        ([Node(1, "a"), Node(2, "b")], [Edge(1, 2, 0.5, 1), Edge(1, 2, 0.4, 2)], "edge 1 -> 2 appears twice"),
        ([Node(1, "a"), Node(2, "b")], [Edge(1, 2, float("nan"), 1)], "has score nan"),
    ],
)
def test_undrawable_subgraphs_are_refused(nodes, edges, message):
    with pytest.raises(ExportError, match=message):
        render(Subgraph("m", "t", nodes, edges), "json")


@pytest.mark.parametrize("fmt", FORMATS)
def test_dash_writes_to_the_stream(fmt):
    stream = io.StringIO()
    assert write(sample(), fmt, "-", stdout=stream) == []
    parts = render(sample(), fmt)
    expected = parts["nodes"] + "\r\n" + parts["edges"] if fmt == "csv" else parts[""]
    assert stream.getvalue() == expected


def test_writing_into_a_missing_folder_fails_and_leaves_nothing(tmp_path):
    target = tmp_path / "missing" / "atlas.json"
    with pytest.raises(ExportError, match=r"folder .*missing does not exist; create it or choose another path"):
        write(sample(), "json", str(target))
    assert not target.parent.exists()
    assert os.listdir(tmp_path) == []


def test_a_failed_render_does_not_clobber_an_existing_file(tmp_path):
    target = tmp_path / "atlas.graphml"
    target.write_text("keep me")
    broken = Subgraph("m", "t", [Node(1, "a")], [Edge(1, 9, 0.5, 1)])
    with pytest.raises(ExportError):
        write(broken, "graphml", str(target))
    assert target.read_text() == "keep me"
    assert os.listdir(tmp_path) == ["atlas.graphml"]


def test_writing_onto_a_folder_fails_and_leaves_no_temporary_file(tmp_path):
    (tmp_path / "out.json").mkdir()
    with pytest.raises(ExportError, match=r"out\.json: it is a folder; give a file name"):
        write(sample(), "json", str(tmp_path / "out.json"))
    assert os.listdir(tmp_path) == ["out.json"]


@pytest.mark.parametrize("fmt", ["html", "graphml", "json", "cypher"])
def test_write_replaces_an_existing_file_with_the_rendered_text(tmp_path, fmt):
    target = tmp_path / f"atlas.{fmt}"
    target.write_text("old")
    reference = tmp_path / "reference"
    reference.write_text("")
    assert write(sample(), fmt, str(target)) == [str(target)]
    assert target.read_bytes() == render(sample(), fmt)[""].encode("utf-8")
    assert target.stat().st_mode == reference.stat().st_mode  # the usual mode, not a temp file's 0600
    assert sorted(os.listdir(tmp_path)) == sorted([target.name, "reference"])
