"""The one shape every view produces and every exporter takes: token nodes and scored edges."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Node:
    """A token (or, when variants are collapsed, a variant group drawn as one node).

    ``id`` is the token id (for a group: the id of its representative token, the
    lowest id in the group); ``members`` lists every token id a group node stands for.
    """

    id: int
    text: str  # readable token text, e.g. " list" (byte-level BPE) or "##ing" (WordPiece)
    raw: str = ""  # the tokenizer's own piece, e.g. "Ġlist"
    special: bool = False
    variant: str | None = None  # variant key, e.g. "list"
    seed: bool = False  # a token the view started from (prompt token, atlas word)
    members: tuple[int, ...] = ()


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
