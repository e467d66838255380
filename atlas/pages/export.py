"""Exporters: one Subgraph written as html, graphml, json, csv or a Cypher script.

``render`` turns a subgraph into text (pure, deterministic: nodes by id, edges by
(source, rank, target), floats as ``repr`` so they round-trip, no timestamps);
``write`` puts that text on a stream or into files (see :mod:`atlas.files.output` for how).
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from atlas.core.cypher_text import Literal, cypher_string, cypher_value, inline
from atlas.core.subgraph import Edge, Node, Subgraph, optional
from atlas.core.token_text import display_text, escape_controls, script_json, visible_text
from atlas.errors import ExportError
from atlas.files.output import STDOUT, is_special, write_files, write_output
from atlas.graph.queries import query
from atlas.pages.assets import inlined_script, page_template
from atlas.settings import EXPORT_FORMATS

FORMATS = EXPORT_FORMATS

NODE_FIELDS = (
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
)
EDGE_FIELDS = ("source", "target", "score", "rank")

CYPHER_BATCH = 500  # rows per UNWIND statement in the Cypher script


def render(subgraph: Subgraph, fmt: str) -> dict[str, str]:
    """Render ``subgraph`` as ``fmt``; returns {file-suffix role: text}.

    Every format but csv gives ``{"": text}``; csv gives ``{"nodes": ..., "edges": ...}``.
    Raises ExportError for an unknown format or a subgraph that cannot be drawn
    (duplicate node ids or edges, an edge to a missing node, a non-finite score).
    """
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ExportError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    nodes, edges = _ordered(subgraph)
    return renderer(subgraph, nodes, edges)


def output_paths(fmt: str, out: str) -> dict[str, str]:
    """The file each rendered part goes to: csv splits ``out`` into two files, the rest use it as is.

    >>> output_paths("csv", "atlas.csv")
    {'nodes': 'atlas.nodes.csv', 'edges': 'atlas.edges.csv'}
    >>> output_paths("csv", "out/atlas")
    {'nodes': 'out/atlas.nodes.csv', 'edges': 'out/atlas.edges.csv'}
    """
    if fmt != "csv":
        return {"": out}
    stem = out[:-4] if out.lower().endswith(".csv") else out
    return {"nodes": f"{stem}.nodes.csv", "edges": f"{stem}.edges.csv"}


def write(subgraph: Subgraph, fmt: str, out: str, stdout: TextIO | None = None) -> list[str]:
    """Render ``subgraph`` as ``fmt`` and write it to ``out``; returns the paths written.

    ``out == "-"`` writes to ``stdout`` (default ``sys.stdout``) and returns ``[]``;
    csv then writes the nodes table, one blank line, and the edges table. Otherwise the
    files are written by the rules of :mod:`atlas.files.output`: a regular file is replaced
    atomically, keeping its permissions, so a failed export leaves no partial file and an
    existing file is only replaced by a complete one; a symbolic link keeps pointing at
    its target, which gets the export; a FIFO or device (``/dev/null``, ``/dev/stdout``)
    is written into; a hard-linked file is replaced under the name given, so its other
    names keep the old content. csv writes two files named after ``out`` without its
    ``.csv`` suffix: ``-o atlas.csv`` gives ``atlas.nodes.csv`` and ``atlas.edges.csv``.
    """
    parts = render(subgraph, fmt)
    if out == STDOUT:
        text = "\r\n".join(parts[role] for role in ("nodes", "edges")) if fmt == "csv" else parts[""]
        write_output(out, text, stdout)
        return []
    if not out:
        raise ExportError("no output file given; name a file with -o, or write - for stdout")
    if fmt == "csv" and is_special(out):
        raise ExportError(
            f"cannot write csv to {out}: it is not a regular file, and csv writes two files named after it; "
            "give a file name (NAME.csv gives NAME.nodes.csv and NAME.edges.csv), or -o - for both tables on stdout"
        )
    targets = output_paths(fmt, out)
    write_files({path: _utf8(path, parts[role]) for role, path in targets.items()})
    return list(targets.values())


def _utf8(path: str, text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ExportError(f"cannot write {path}: a token text is not valid Unicode ({e.reason})") from e


# --- checks and shared helpers -------------------------------------------------------------


def _ordered(subgraph: Subgraph) -> tuple[list[Node], list[Edge]]:
    """Nodes by id and edges by (source, rank, target), after checking the subgraph is drawable."""
    nodes = sorted(subgraph.nodes, key=lambda n: n.id)
    ids = set()
    for n in nodes:
        if n.id in ids:
            raise ExportError(f"token {n.id} appears twice among the subgraph's nodes; give each id once")
        ids.add(n.id)
    edges = sorted(subgraph.edges, key=lambda e: (e.source, e.rank, e.target))
    pairs = set()
    for e in edges:
        for end in (e.source, e.target):
            if end not in ids:
                raise ExportError(
                    f"edge {e.source} -> {e.target} ends at token {end}, which is not a node; "
                    "add the node or drop the edge"
                )
        if (e.source, e.target) in pairs:
            raise ExportError(f"edge {e.source} -> {e.target} appears twice; give each edge once")
        pairs.add((e.source, e.target))
        if not math.isfinite(e.score):
            raise ExportError(f"edge {e.source} -> {e.target} has score {e.score}; recompute the neighbours")
    return nodes, edges


def _float(x: float) -> str:
    """The shortest text that reads back as the same float: ``repr`` of a Python float."""
    return repr(float(x))


def _members(node: Node) -> str:
    return " ".join(str(int(m)) for m in node.members)


# --- json ------------------------------------------------------------------------------------


def _node_record(n: Node) -> dict:
    """Everything the exports carry of a node; what an analysis stores is None where there is none."""
    return {
        "id": int(n.id),
        "text": n.text,
        "raw": n.raw,
        "special": bool(n.special),
        "variant": n.variant,
        "seed": bool(n.seed),
        "members": [int(m) for m in n.members],
        "community": optional(n.community, int),
        "community_label": n.community_label,
        "cited": optional(n.cited, int),
        "out_degree": optional(n.out_degree, int),
        "pagerank": optional(n.pagerank, float),
        "core": optional(n.core, int),
        "clustering": optional(n.clustering, float),
        "x": optional(n.x, float),
        "y": optional(n.y, float),
    }


def _token_row(n: Node) -> dict:
    """A node as the Cypher script stores it on its Token: the record without the community's label (a Community property)."""
    record = _node_record(n)
    del record["community_label"]
    return record


def _edge_record(e: Edge) -> dict:
    return {"source": int(e.source), "target": int(e.target), "score": float(e.score), "rank": int(e.rank)}


def _render_json(subgraph: Subgraph, nodes: list[Node], edges: list[Edge]) -> dict[str, str]:
    """Node-link JSON, readable by ``networkx.node_link_graph(data, edges="links")``."""
    head = {"directed": True, "multigraph": False, "graph": {"model": subgraph.model, "title": subgraph.title}}
    lines = [json.dumps(head, ensure_ascii=False)[:-1] + ","]  # one record a line, for grep and diff
    for name, records in (("nodes", map(_node_record, nodes)), ("links", map(_edge_record, edges))):
        rows = [json.dumps(r, ensure_ascii=False) for r in records]
        lines.append(f' "{name}": [' + ("\n  " + ",\n  ".join(rows) + "\n ]" if rows else "]") + ",")
    lines[-1] = lines[-1][:-1] + "}"
    return {"": "\n".join(lines) + "\n"}


# --- csv -------------------------------------------------------------------------------------


def _csv_text(header: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # excel dialect: CRLF rows, quotes around any field with , " CR or LF
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def _render_csv(subgraph: Subgraph, nodes: list[Node], edges: list[Edge]) -> dict[str, str]:
    """Two tables; booleans as ``true``/``false``, members space-separated, no variant (or no community,
    in-degree, graph measures or map position, before an analysis) as an empty field."""
    node_rows = (
        (
            str(int(n.id)),
            n.text,
            n.raw,
            _bool(n.special),
            n.variant or "",
            _bool(n.seed),
            _members(n),
            _blank(n.community, str),
            _blank(n.cited, str),
            _blank(n.out_degree, str),
            _blank(n.pagerank, _float),
            _blank(n.core, str),
            _blank(n.clustering, _float),
            _blank(n.x, _float),
            _blank(n.y, _float),
        )
        for n in nodes
    )
    edge_rows = ((str(int(e.source)), str(int(e.target)), _float(e.score), str(int(e.rank))) for e in edges)
    return {"nodes": _csv_text(NODE_FIELDS, node_rows), "edges": _csv_text(EDGE_FIELDS, edge_rows)}


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _blank(value, text) -> str:
    return "" if value is None else text(value)


# --- graphml ---------------------------------------------------------------------------------

_GRAPHML_KEYS = (
    # (id, for, type): the id is also the attribute name
    ("model", "graph", "string"),
    ("title", "graph", "string"),
    ("text", "node", "string"),
    ("raw", "node", "string"),
    ("special", "node", "boolean"),
    ("variant", "node", "string"),
    ("seed", "node", "boolean"),
    ("members", "node", "string"),
    ("label", "node", "string"),
    ("community", "node", "int"),
    ("community_label", "node", "string"),
    ("cited", "node", "int"),
    ("out_degree", "node", "int"),
    ("pagerank", "node", "double"),
    ("core", "node", "int"),
    ("clustering", "node", "double"),
    ("x", "node", "double"),
    ("y", "node", "double"),
    ("score", "edge", "double"),
    ("rank", "edge", "int"),
)


def _xml(text: str) -> str:
    """Escape for XML element content and double-quoted attributes (illegal characters made visible)."""
    return (
        visible_text(text)
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\r", "&#13;")
    )


def _render_graphml(subgraph: Subgraph, nodes: list[Node], edges: list[Edge]) -> dict[str, str]:
    r"""GraphML for networkx and Gephi.

    Node keys: text, raw, variant (omitted when there is none), members (space-separated
    token ids), special and seed (boolean), label (the display form), and what an analysis
    stored, each omitted where there is none: community (int), community_label, cited (int),
    out_degree (int), pagerank (double), core (int), clustering (double), x and y (double, the
    map position); edge keys: score (double), rank (int). Gephi's
    GraphML importer takes keys named ``label``, ``x`` and ``y`` as a node's label and
    position, so it opens the file with the map's layout. Characters XML 1.0 cannot hold,
    even as character references (most C0 controls), are written as visible ``\xNN`` text.
    """
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        ' xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns'
        ' http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">',
    ]
    for key, domain, kind in _GRAPHML_KEYS:
        lines.append(f'  <key id="{key}" for="{domain}" attr.name="{key}" attr.type="{kind}"/>')
    lines.append('  <graph id="G" edgedefault="directed">')
    lines.append(f'    <data key="model">{_xml(subgraph.model)}</data>')
    lines.append(f'    <data key="title">{_xml(subgraph.title)}</data>')
    for n in nodes:
        data = [("text", n.text), ("raw", n.raw), ("special", _bool(n.special))]
        if n.variant is not None:
            data.append(("variant", n.variant))
        data += [("seed", _bool(n.seed)), ("members", _members(n)), ("label", display_text(n.text))]
        analysed: tuple[tuple[str, Any, Callable[[Any], str]], ...] = (
            ("community", n.community, str),
            ("community_label", n.community_label, str),
            ("cited", n.cited, str),
            ("out_degree", n.out_degree, str),
            ("pagerank", n.pagerank, _float),
            ("core", n.core, str),
            ("clustering", n.clustering, _float),
            ("x", n.x, _float),
            ("y", n.y, _float),
        )
        data += [(key, text(value)) for key, value, text in analysed if value is not None]
        lines.append(f'    <node id="{int(n.id)}">')
        lines += [f'      <data key="{key}">{_xml(value)}</data>' for key, value in data]
        lines.append("    </node>")
    for e in edges:
        lines.append(
            f'    <edge source="{int(e.source)}" target="{int(e.target)}">'
            f'<data key="score">{_float(e.score)}</data><data key="rank">{int(e.rank)}</data></edge>'
        )
    lines += ["  </graph>", "</graphml>", ""]
    return {"": "\n".join(lines)}


# --- cypher ----------------------------------------------------------------------------------


def _render_cypher(subgraph: Subgraph, nodes: list[Node], edges: list[Edge]) -> dict[str, str]:
    """Plain Cypher statements, each ending in ``;`` and a newline, that recreate the subgraph.

    The statements are ``schema_token_key``, ``export_tokens`` and ``export_edges``
    from ``cypher/`` with their parameters written as literals (no ``:param``), so
    cypher-shell ``-f`` and a driver (statement by statement, see
    :func:`~atlas.core.cypher_text.split_statements`) both run it. Each token gets what the
    other exports carry of it (its community, in-degree and map position among them, but
    not the community's label, which is a Community's property). Tokens are MERGEd on
    (:Token {model, id}) and edges on (a)-[:SIMILAR_TO]->(b), so running the script
    twice changes nothing.
    """
    statements = [
        f"// token atlas subgraph {cypher_string(subgraph.title)} of model {cypher_string(subgraph.model)}: "
        f"{len(nodes)} tokens, {len(edges)} SIMILAR_TO edges\n"
        "// run in a Neo4j 5 database: cypher-shell -f FILE\n" + inline(query("schema_token_key"), {})
    ]
    for name, records in (
        ("export_tokens", [_token_row(n) for n in nodes]),
        ("export_edges", [_edge_record(e) for e in edges]),
    ):
        for start in range(0, len(records), CYPHER_BATCH):
            rows = Literal(
                "[\n  " + ",\n  ".join(cypher_value(r) for r in records[start : start + CYPHER_BATCH]) + "\n]"
            )
            statements.append(inline(query(name), {"model": subgraph.model, "rows": rows}))
    return {"": "".join(s + ";\n" for s in statements)}


# --- html ------------------------------------------------------------------------------------


def components(nodes: list[Node], edges: list[Edge]) -> dict[int, int]:
    """Weakly connected components: {node id: component number}, 0 for the largest.

    Components are numbered by size (largest first), ties by their lowest node id.

    >>> components([Node(1, "a"), Node(2, "b"), Node(3, "c")], [Edge(3, 2, 0.5, 1)])
    {1: 1, 2: 0, 3: 0}
    """
    parent = {n.id: n.id for n in nodes}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e in edges:
        a, b = find(e.source), find(e.target)
        if a != b:
            parent[max(a, b)] = min(a, b)
    groups: dict[int, list[int]] = {}
    for n in sorted(parent):
        groups.setdefault(find(n), []).append(n)
    order = sorted(groups.values(), key=lambda ids: (-len(ids), ids[0]))
    return dict(sorted((node, number) for number, ids in enumerate(order) for node in ids))


def variant_groups(nodes: list[Node]) -> dict[int, int | None]:
    """{node id: variant group number}, or None for a node that shares its variant with nothing.

    A group is a variant key held by two or more nodes, or by one collapsed node of
    two or more members; groups are numbered by size (largest first), ties by key.
    """
    by_key: dict[str, list[Node]] = {}
    for n in nodes:
        if n.variant is not None:
            by_key.setdefault(n.variant, []).append(n)
    sizes = {key: sum(max(1, len(n.members)) for n in group) for key, group in by_key.items()}
    keys = sorted((k for k, size in sizes.items() if size >= 2), key=lambda k: (-sizes[k], k))
    number = {key: i for i, key in enumerate(keys)}
    return {n.id: number.get(n.variant) if n.variant is not None else None for n in nodes}


def community_legend(nodes: list[Node]) -> list[dict]:
    """The communities a subgraph shows, for the page's legend: ``[{id, label, nodes}]``, most nodes first, ties by id.

    ``label`` is the community's label with control and bidi characters escaped (it is
    made of token texts); ``nodes`` counts the subgraph's nodes in it. Nodes without a
    community are left out.

    >>> community_legend([Node(1, "a", community=4, community_label="a · b"), Node(2, "b", community=4), Node(3, "c")])
    [{'id': 4, 'label': 'a · b', 'nodes': 2}]
    """
    counts: dict[int, int] = {}
    labels: dict[int, str] = {}
    for n in nodes:
        if n.community is not None:
            counts[n.community] = counts.get(n.community, 0) + 1
            if n.community_label is not None:
                labels.setdefault(n.community, n.community_label)
    order = sorted(counts, key=lambda c: (-counts[c], c))
    return [{"id": c, "label": escape_controls(labels.get(c, f"community {c}")), "nodes": counts[c]} for c in order]


def _render_html(subgraph: Subgraph, nodes: list[Node], edges: list[Edge]) -> dict[str, str]:
    """One self-contained page: the vendored force-graph library, the data and the viewer script.

    The data keeps the exact texts; what the page shows of them (``label``, ``rawLabel``,
    ``variantLabel``, ``communityLabel``, ``titleLabel``, ``modelLabel``, the legend's
    labels) has control and bidi characters escaped, and the page isolates each shown
    text so it cannot reorder its neighbours. Nodes keep their map positions (``x``,
    ``y``), from which the page starts its layout.
    """
    component = components(nodes, edges)
    group = variant_groups(nodes)
    degree = {n.id: 0 for n in nodes}
    for e in edges:
        degree[e.source] += 1
        if e.target != e.source:
            degree[e.target] += 1
    data = {
        "model": subgraph.model,
        "title": subgraph.title,
        "modelLabel": escape_controls(subgraph.model),
        "titleLabel": escape_controls(subgraph.title),
        "nodes": [
            _node_record(n)
            | {
                "label": display_text(n.text),
                "rawLabel": display_text(n.raw),
                "variantLabel": None if n.variant is None else escape_controls(n.variant),
                "communityLabel": None if n.community_label is None else escape_controls(n.community_label),
                "degree": degree[n.id],
                "component": component[n.id],
                "group": group[n.id],
            }
            for n in nodes
        ],
        "links": [_edge_record(e) for e in edges],
        "communities": community_legend(nodes),
    }
    fills = {"__ATLAS_DATA__": script_json(data), "__ATLAS_LIBRARY__": inlined_script("force-graph.min.js")}
    page = re.sub("__ATLAS_(?:DATA|LIBRARY)__", lambda m: fills[m.group()], page_template("graph.html"))
    return {"": page}


_RENDERERS = {
    "html": _render_html,
    "graphml": _render_graphml,
    "json": _render_json,
    "csv": _render_csv,
    "cypher": _render_cypher,
}
