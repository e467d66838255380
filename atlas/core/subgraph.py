"""The one shape every view produces and every exporter takes: token nodes and scored edges.

Views build it from statement rows with ``nodes`` and ``edges`` lists
(:func:`subgraph_from_rows`), ordered (nodes by id, edges by source, rank, target) so
the same inputs give byte-identical exports; :func:`collapse` draws each variant group
as one node.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from atlas.errors import InvalidArgument


@dataclass(frozen=True)
class Node:
    """A token (or, when variants are collapsed, a variant group drawn as one node).

    ``id`` is the token id (for a group: the id of its representative token, the
    lowest id in the group); ``members`` lists every token id a group node stands for.
    ``community``, ``community_label``, ``cited``, ``out_degree``, ``pagerank``, ``core``,
    ``clustering``, ``x`` and ``y`` are what the model's
    analysis stored (see :mod:`atlas.core.analysis`), None before an analysis or for a token
    without edges; a group node has its representative's.
    """

    id: int
    text: str  # readable token text, e.g. " list" (byte-level BPE) or "##ing" (WordPiece)
    raw: str = ""  # the tokenizer's own piece, e.g. "Ġlist"
    special: bool = False
    variant: str | None = None  # variant key, e.g. "list"
    seed: bool = False  # a token the view started from (prompt token, atlas word)
    members: tuple[int, ...] = ()
    community: int | None = None  # Leiden community id, 0 = the model's largest
    community_label: str | None = None  # the community's label, e.g. "list · lists · array"
    cited: int | None = None  # in-degree in the whole model: how many tokens list this one among their k nearest
    out_degree: int | None = None  # its edges out (k, fewer for a token with fewer neighbours)
    pagerank: float | None = None  # PageRank in the model's whole graph (see atlas.core.analysis.measures)
    core: int | None = None  # k-core number in the model's whole undirected graph
    clustering: float | None = None  # local clustering coefficient in the model's whole undirected graph
    x: float | None = None  # position on the model's map (UMAP), in map units
    y: float | None = None


@dataclass(frozen=True)
class Edge:
    """A SIMILAR_TO edge: ``target`` is ``source``'s rank-th nearest token with cosine ``score``."""

    source: int
    target: int
    score: float
    rank: int


@dataclass
class Subgraph:
    """Nodes (unique by id) and edges (unique by source, target) of one view of one model."""

    model: str
    title: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)

    def node_ids(self) -> set[int]:
        return {n.id for n in self.nodes}


def subgraph_from_rows(model: str, title: str, rows: Sequence[dict], statement: str) -> Subgraph:
    """A Subgraph from rows with ``nodes`` and ``edges`` lists (the named-view contract), ordered."""
    nodes: dict[int, Node] = {}
    edges: dict[tuple[int, int], Edge] = {}
    for row in rows:
        if "nodes" not in row or "edges" not in row:
            raise InvalidArgument(f"{statement} must return columns nodes and edges, got {', '.join(row) or 'none'}")
        for item in row["nodes"] or []:
            node = _node(item, statement)
            if node.id in nodes:
                node = replace(nodes[node.id], seed=nodes[node.id].seed or node.seed)
            nodes[node.id] = node
        for item in row["edges"] or []:
            edge = _edge(item, statement)
            edges.setdefault((edge.source, edge.target), edge)
    for edge in edges.values():
        for end in (edge.source, edge.target):
            if end not in nodes:
                raise InvalidArgument(
                    f"{statement} returned edge {edge.source} -> {edge.target} but not node {end}; return both ends"
                )
    return Subgraph(
        model=model,
        title=title,
        nodes=sorted(nodes.values(), key=lambda n: n.id),
        edges=sorted(edges.values(), key=lambda e: (e.source, e.rank, e.target)),
    )


def _node(item: dict, statement: str) -> Node:
    if not isinstance(item, dict) or item.get("id") is None or item.get("text") is None:
        raise InvalidArgument(f"{statement} returned a node without id or text: {item!r}")
    return Node(
        id=int(item["id"]),
        text=str(item["text"]),
        raw=str(item.get("raw") or ""),
        special=bool(item.get("special") or False),
        variant=item.get("variant"),
        seed=bool(item.get("seed") or False),
        community=optional(item.get("community"), int),
        community_label=optional(item.get("community_label"), str),
        cited=optional(item.get("cited"), int),
        out_degree=optional(item.get("out_degree"), int),
        pagerank=optional(item.get("pagerank"), float),
        core=optional(item.get("core"), int),
        clustering=optional(item.get("clustering"), float),
        x=_position(item.get("x")),
        y=_position(item.get("y")),
    )


def optional(value, kind):
    """``kind(value)``, or None for None (a property an analysis may not have stored).

    >>> optional("3", int), optional(None, int)
    (3, None)
    """
    return None if value is None else kind(value)


def _position(value) -> float | None:
    """A map coordinate as a float; None for none (or a non-finite one, which no format can carry)."""
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _edge(item: dict, statement: str) -> Edge:
    if not isinstance(item, dict) or any(item.get(f) is None for f in ("source", "target", "score", "rank")):
        raise InvalidArgument(f"{statement} returned an edge without source, target, score or rank: {item!r}")
    return Edge(int(item["source"]), int(item["target"]), float(item["score"]), int(item["rank"]))


def collapse(subgraph: Subgraph) -> Subgraph:
    """Draw each variant group as one node.

    A group (nodes sharing a variant key) becomes the node of its lowest token id,
    with that token's text, community, in-degree and map position and ``members`` = every token id of the group shown (left
    empty for a group of one token); it is a seed if any member is. Edges are
    re-pointed to group nodes; edges inside a group are dropped; parallel edges are
    merged, keeping the best score and its rank (ties: the lower rank). Nodes without
    a key stay as they are.

    >>> g = Subgraph("m", "t", [Node(1, "list", variant="list"), Node(4, " List", variant="list"),
    ...     Node(7, "cat", variant="cat")], [Edge(1, 4, 0.9, 1), Edge(1, 7, 0.5, 2), Edge(4, 7, 0.6, 1)])
    >>> c = collapse(g)
    >>> [(n.id, n.members) for n in c.nodes], c.edges
    ([(1, (1, 4)), (7, ())], [Edge(source=1, target=7, score=0.6, rank=1)])
    """
    groups: dict[str, list[Node]] = {}
    for node in subgraph.nodes:
        if node.variant is not None:
            groups.setdefault(node.variant, []).append(node)
    home = {n.id: n.id for n in subgraph.nodes}  # token id -> the node id it is drawn as
    nodes = {n.id: n for n in subgraph.nodes if n.variant is None}
    for members in groups.values():
        members = sorted(members, key=lambda n: n.id)
        rep = members[0]
        ids = tuple(n.id for n in members)
        nodes[rep.id] = replace(rep, seed=any(n.seed for n in members), members=ids if len(ids) > 1 else ())
        home.update((i, rep.id) for i in ids)
    edges: dict[tuple[int, int], Edge] = {}
    for edge in sorted(subgraph.edges, key=lambda e: (e.source, e.rank, e.target)):
        source, target = home[edge.source], home[edge.target]
        if source == target:
            continue
        best = edges.get((source, target))
        if best is None or (edge.score, -edge.rank) > (best.score, -best.rank):
            edges[(source, target)] = Edge(source, target, edge.score, edge.rank)
    return Subgraph(
        model=subgraph.model,
        title=subgraph.title,
        nodes=sorted(nodes.values(), key=lambda n: n.id),
        edges=sorted(edges.values(), key=lambda e: (e.source, e.rank, e.target)),
    )
