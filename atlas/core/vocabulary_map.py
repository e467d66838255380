"""The whole-vocabulary map's shape: every token with its position, community, in-degree, kind and neighbours.

Read from the graph by :func:`atlas.views.vocabulary.read_map`; drawn by :mod:`atlas.pages.map_page`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from atlas.core.analysis import Community

KINDS = ("ordinary", "special token", "whitespace only", "byte fragment")
QUERY_PLACEHOLDER = "__TOKEN_ID__"


@dataclass
class VocabularyMap:
    """Every token of a vocabulary with its position, community, in-degree, kind, variant group and neighbours."""

    model: str
    title: str
    ids: np.ndarray  # (n,) int64 token ids
    text: list[str]  # (n,) exact token text
    x: np.ndarray  # (n,) float32
    y: np.ndarray  # (n,) float32
    community: np.ndarray  # (n,) int32, -1 = none
    cited: np.ndarray  # (n,) int32 in-degree
    kind: np.ndarray  # (n,) uint8: 0 ordinary, 1 special, 2 whitespace-only, 3 byte fragment
    variant: np.ndarray  # (n,) int32 variant-group number, -1 = none
    neighbours: np.ndarray  # (n, k) int32 row indices into this map, best first, -1 = none
    scores: np.ndarray  # (n, k) float32 cosine similarity, NaN = none
    communities: list[Community]
    browser_query: str  # one line of Cypher with __TOKEN_ID__ where a token id goes
    out_degree: np.ndarray | None = None  # (n,) int32 edges out; None when the analysis did not compute the measures
    pagerank: np.ndarray | None = None  # (n,) float32 PageRank
    core: np.ndarray | None = None  # (n,) int32 k-core number
    clustering: np.ndarray | None = None  # (n,) float32 local clustering coefficient
    untrained: np.ndarray | None = None  # (n,) bool under-trained candidates; None before `atlas untrained`
