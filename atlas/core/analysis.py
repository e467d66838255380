"""Network analysis of an exact k-nearest-neighbour graph: hubs, mutual pairs, communities and a 2D map.

Every function takes the graph as ``neighbours`` (n, k) int row indices, best first, -1
for none, and ``scores`` (n, k) float32 cosines, as :func:`atlas.core.topk.all_neighbours`
gives them. All of it is pure and deterministic for a seed. Communities are Leiden's
(igraph's ``community_leiden``, the modularity objective at a resolution) on the undirected
graph of the neighbour lists; the graph measures are igraph's too; the map is UMAP's layout
(umap-learn) of the same exact graph, so what is near on the map is near in the stored edges.

Communities and the map depend only on who is among whose k nearest and at what rank, never
on the scores' values: the same model and seed give the same communities and map on any
machine, although cosines computed by different BLAS kernels differ in their last bits (and
the map, an iterative optimisation, follows any change in its input, however small). The
scores go into the graph measures (PageRank) and the community links' weights only.
"""

from __future__ import annotations

import gc
import random
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from atlas.core.arguments import integer, number
from atlas.core.progress import ignore
from atlas.core.variants import SPACE_FAMILIES, has_byte_escape, is_word
from atlas.errors import InvalidArgument
from atlas.settings import EPOCHS, RESOLUTION

MIN_DIST = 0.1  # UMAP: how tightly points may pack
NEGATIVE_SAMPLES = 12  # UMAP: points pushed away per edge sample; more of them, fewer epochs (bench/bench_atlas.py)
LEIDEN_ITERATIONS = 2  # Leiden passes (igraph's default); bench/bench_atlas.py sets them against running to convergence
LABEL_WORDS = 3  # members named in a community's label
ORDINARY, SPECIAL, WHITESPACE, FRAGMENT = range(4)  # token kinds
KIND_NAMES = ("ordinary", "special", "whitespace", "fragment")

Stage = Callable[[str], None]  # told the name of each stage as it starts


@dataclass(frozen=True)
class Community:
    """One community: ``id`` 0 is the largest; ``x``, ``y`` where its label goes (the median of its members)."""

    id: int
    size: int
    label: str
    x: float
    y: float


@dataclass
class Analysis:
    """What :func:`analyse` finds in a graph of n tokens (row order of its input)."""

    cited: np.ndarray  # (n,) int32 in-degree: how many tokens list this one among their k nearest
    mutual: np.ndarray  # (n, k) bool: the edge exists in both directions (False where there is no edge)
    community: np.ndarray  # (n,) int32 community id, -1 for a token without edges
    xy: np.ndarray  # (n, 2) float32 map position, NaN for a token without edges
    communities: list[Community]
    links: np.ndarray  # (m, 4) float64 rows (a, b, edges, weight): SIMILAR_TO edges between communities a < b
    modularity: float
    measures: Measures | None = None  # out-degree, PageRank, coreness and clustering of every row
    settings: dict = field(default_factory=dict)

    @property
    def cited_skewness(self) -> float:
        return skewness(self.cited)

    @property
    def mutual_share(self) -> float:
        """The share of edges that exist both ways."""
        edges = int(self.cited.sum())
        return float(self.mutual.sum() / edges) if edges else 0.0


# --- per-edge and per-token counts ------------------------------------------------------------


def check_graph(neighbours: np.ndarray, scores: np.ndarray) -> None:
    """Reject a graph whose arrays do not fit together."""
    if neighbours.ndim != 2 or scores.shape != neighbours.shape:
        raise InvalidArgument(f"neighbours and scores must both be (n, k); got {neighbours.shape} and {scores.shape}")
    check_neighbours(neighbours)


def check_neighbours(neighbours: np.ndarray) -> None:
    """Reject neighbour lists that are not (n, k) row indices or -1."""
    if neighbours.ndim != 2:
        raise InvalidArgument(f"neighbours must be (n, k); got shape {neighbours.shape}")
    n = neighbours.shape[0]
    if neighbours.size and (neighbours.min() < -1 or neighbours.max() >= n):
        raise InvalidArgument(f"neighbour indices must lie in -1..{n - 1}")


def cited(neighbours: np.ndarray) -> np.ndarray:
    """In-degree of every row: how many rows list it among their neighbours.

    >>> cited(np.array([[1, 2], [0, -1], [1, 0]])).tolist()
    [2, 2, 1]
    """
    targets = neighbours[neighbours >= 0]
    return np.bincount(targets, minlength=neighbours.shape[0]).astype(np.int32)


def mutual(neighbours: np.ndarray) -> np.ndarray:
    """(n, k) bool: row i lists j and row j lists i.

    >>> mutual(np.array([[1, 2], [0, -1], [1, 0]])).tolist()
    [[True, True], [True, False], [False, True]]
    """
    n, k = neighbours.shape
    source = np.repeat(np.arange(n, dtype=np.int64), k)
    target = neighbours.ravel().astype(np.int64)
    present = target >= 0
    keys = np.sort(source[present] * n + target[present])
    wanted = target * n + source
    found = np.searchsorted(keys, wanted)
    found = np.minimum(found, max(len(keys) - 1, 0))
    hit = present & (keys[found] == wanted) if len(keys) else np.zeros_like(present)
    return hit.reshape(n, k)


def has_edges(neighbours: np.ndarray) -> np.ndarray:
    """(n,) bool: the row has an edge in or out."""
    out = (neighbours >= 0).any(axis=1)
    return out | (cited(neighbours) > 0)


def skewness(values: np.ndarray) -> float:
    """Sample skewness (the third standardised moment) of ``values``; 0 for a constant.

    >>> round(skewness(np.array([1, 1, 1, 10])), 3)
    1.155
    """
    x = np.asarray(values, dtype=np.float64)
    spread = x.std()
    if x.size == 0 or spread == 0:
        return 0.0
    return float(np.mean((x - x.mean()) ** 3) / spread**3)


# --- graph measures --------------------------------------------------------------------------

DAMPING = 0.85  # PageRank's damping factor


@dataclass(frozen=True)
class Measures:
    """Per-row measures of the exact graph (see :func:`measures`)."""

    out_degree: np.ndarray  # (n,) int32: edges out (k, fewer where a row has fewer neighbours)
    pagerank: np.ndarray  # (n,) float64: PageRank of the directed graph weighted by cosine, summing to 1
    core: np.ndarray  # (n,) int32: k-core number (coreness) in the undirected graph
    clustering: np.ndarray  # (n,) float64: local clustering coefficient in the undirected graph, 0 below 2 neighbours


def measures(neighbours: np.ndarray, scores: np.ndarray, simple=None) -> Measures:
    """Out-degree, PageRank, coreness and local clustering of every row, computed by igraph.

    PageRank runs on the directed graph (row -> each of its neighbours), each edge weighted by
    its cosine (at least 1e-6), damping 0.85; a row without edges out jumps anywhere. Coreness
    and clustering use the undirected simple graph (:func:`pair_directions`'s pairs, unweighted);
    ``simple`` is that graph when the caller has it already (:func:`community_graph`'s).

    >>> m = measures(np.array([[1, 2], [0, 2], [0, 1], [0, -1]]), np.full((4, 2), 0.5, np.float32))
    >>> m.out_degree.tolist(), m.core.tolist(), m.clustering.round(3).tolist()
    ([2, 2, 2, 1], [2, 2, 2, 1], [0.333, 1.0, 1.0, 0.0])
    """
    import igraph

    check_graph(neighbours, scores)
    n, k = neighbours.shape
    source = np.repeat(np.arange(n, dtype=np.int64), k)
    target = neighbours.ravel().astype(np.int64)
    keep = target >= 0
    directed = igraph.Graph(n=n, directed=True)
    directed.add_edges(np.stack([source[keep], target[keep]], axis=1))  # faster than edges= for numpy arrays
    weights = np.maximum(np.nan_to_num(scores.ravel()[keep].astype(np.float64), nan=0.0), 1e-6).tolist()
    pagerank = np.asarray(directed.pagerank(weights=weights, damping=DAMPING, directed=True), dtype=np.float64)
    if simple is None:
        simple = community_graph(neighbours)
    return Measures(
        out_degree=keep.reshape(n, k).sum(axis=1).astype(np.int32),
        pagerank=pagerank,
        core=np.asarray(simple.coreness(), dtype=np.int32),
        clustering=np.asarray(simple.transitivity_local_undirected(mode="zero"), dtype=np.float64),
    )


# --- communities -----------------------------------------------------------------------------


def communities(
    neighbours: np.ndarray,
    resolution: float = RESOLUTION,
    seed: int = 0,
    iterations: int = LEIDEN_ITERATIONS,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
    graph=None,
) -> tuple[np.ndarray, float]:
    """Leiden communities of the undirected neighbour graph: ``(labels (n,) int32, modularity)``.

    The graph is :func:`pair_directions`'s: each pair joined in either direction once,
    weighted by how many of the two lists it is in (1, or 2 for a mutual pair), so the result
    depends on the neighbour lists only, not on the scores' last bits. Leiden is igraph's
    (``community_leiden``, the modularity objective at ``resolution``, ``iterations`` passes;
    a negative number runs until a pass improves nothing), driven by its own
    ``random.Random(seed)``. Labels are numbered by size (0 = largest), ties by their lowest
    row; a row without edges gets -1. ``pairs`` (:func:`pair_directions`'s result) and
    ``graph`` (:func:`simple_graph` of those pairs) are used when the caller has them already.

    ``modularity`` is the plain (resolution 1) modularity of the partition on that same
    weighted graph (:func:`modularity`); every modularity the package reports is this one.
    The same neighbour lists, resolution and seed give the same labels.
    """
    check_neighbours(neighbours)
    number(resolution, "resolution", above=0)
    if iterations == 0:
        raise InvalidArgument("Leiden needs at least 1 pass, or a negative number to run until it settles")
    edges, directions = pairs if pairs is not None else pair_directions(neighbours)
    n = neighbours.shape[0]
    weights = directions.astype(np.float64)
    graph = graph if graph is not None else simple_graph(n, edges)
    labels = leiden(graph, weights, resolution, seed, iterations)
    labels[~has_edges(neighbours)] = -1
    labels = number_by_size(labels)
    return labels, modularity(n, edges, weights, labels)


def leiden(graph, weights: np.ndarray, resolution: float, seed: int, iterations: int) -> np.ndarray:
    """igraph's Leiden (modularity at ``resolution``) of an undirected ``graph`` with edge ``weights``, seeded.

    A label per vertex, (n,) int64. igraph draws from ``random.Random(seed)`` while it runs
    and from Python's ``random`` module again after.
    """
    import igraph

    igraph.set_random_number_generator(random.Random(seed))
    try:
        found = graph.community_leiden(
            objective_function="modularity", weights=weights.tolist(), resolution=resolution, n_iterations=iterations
        )
    finally:
        igraph.set_random_number_generator(random)
    return np.asarray(found.membership, dtype=np.int64)


def community_graph(neighbours: np.ndarray):
    """The undirected simple graph of the neighbour lists, as an igraph Graph (:func:`pair_directions`'s pairs)."""
    return simple_graph(neighbours.shape[0], pair_directions(neighbours)[0])


def simple_graph(n: int, pairs: np.ndarray):
    """An undirected igraph Graph of ``n`` vertices and the edges ``pairs`` (m, 2)."""
    import igraph

    graph = igraph.Graph(n=n, directed=False)
    graph.add_edges(pairs)
    return graph


def pair_directions(neighbours: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pair joined in either direction once: ``(pairs (m, 2) with a < b, directions (m,) 1 or 2)``.

    >>> pairs, directions = pair_directions(np.array([[1], [0], [0]]))
    >>> pairs.tolist(), directions.tolist()
    ([[0, 1], [0, 2]], [2, 1])
    """
    n, k = neighbours.shape
    source = np.repeat(np.arange(n, dtype=np.int64), k)
    target = neighbours.ravel().astype(np.int64)
    keep = (target >= 0) & (target != source)
    a = np.minimum(source[keep], target[keep])
    b = np.maximum(source[keep], target[keep])
    keys, directions = np.unique(a * n + b, return_counts=True)
    return np.stack([keys // n, keys % n], axis=1), directions.astype(np.int64)


def modularity(n: int, pairs: np.ndarray, weights: np.ndarray, labels: np.ndarray) -> float:
    """Plain (resolution 1) modularity of ``labels`` on the undirected weighted graph ``pairs``, ``weights``.

    Q = (weight inside communities) / m - sum over communities of (their strength / 2m)^2,
    m the total weight. Rows of -1 count as one group; they have no edges.

    >>> modularity(4, np.array([[0, 1], [2, 3]]), np.array([1.0, 1.0]), np.array([0, 0, 1, 1]))
    0.5
    """
    total = float(weights.sum())
    if total == 0:
        return 0.0
    groups = np.maximum(labels, 0).astype(np.int64)
    inside = float(weights[groups[pairs[:, 0]] == groups[pairs[:, 1]]].sum())
    strength = np.bincount(pairs.ravel(), weights=np.repeat(weights, 2), minlength=n)
    per_group = np.bincount(groups, weights=strength)
    return inside / total - float(((per_group / (2 * total)) ** 2).sum())


def number_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber labels 0.. by size, largest first, ties by lowest member; -1 stays -1.

    >>> number_by_size(np.array([5, 7, 7, -1, 5, 9])).tolist()
    [0, 1, 1, -1, 0, 2]
    """
    out = np.full(labels.shape, -1, dtype=np.int32)
    kept = labels >= 0
    if not kept.any():
        return out
    values, first, inverse, counts = np.unique(labels[kept], return_index=True, return_inverse=True, return_counts=True)
    order = np.lexsort((first, -counts))  # by size descending, then first appearance
    rank = np.empty(len(values), dtype=np.int32)
    rank[order] = np.arange(len(values), dtype=np.int32)
    out[kept] = rank[inverse.ravel()]
    return out


def community_links(labels: np.ndarray, neighbours: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """SIMILAR_TO edges between communities: rows ``(a, b, edges, weight)`` with a < b, by (a, b).

    ``edges`` counts the directed edges either way, ``weight`` sums their cosines.

    >>> community_links(np.array([0, 0, 1]), np.array([[1], [2], [1]]), np.array([[.9], [.5], [.5]])).tolist()
    [[0.0, 1.0, 2.0, 1.0]]
    """
    n, k = neighbours.shape
    source = np.repeat(np.arange(n), k)
    target = neighbours.ravel()
    keep = target >= 0
    ca, cb = labels[source[keep]].astype(np.int64), labels[target[keep]].astype(np.int64)
    w = scores.ravel()[keep].astype(np.float64)
    cross = (ca != cb) & (ca >= 0) & (cb >= 0)
    a, b, w = np.minimum(ca, cb)[cross], np.maximum(ca, cb)[cross], w[cross]
    if not len(a):
        return np.zeros((0, 4))
    size = int(labels.max()) + 1
    values, inverse, counts = np.unique(a * size + b, return_inverse=True, return_counts=True)
    sums = np.bincount(inverse.ravel(), weights=w)
    return np.stack([values // size, values % size, counts, sums], axis=1).astype(np.float64)


# --- kinds and labels ------------------------------------------------------------------------


def token_kinds(texts: Sequence[str], special: Sequence[bool], family: str) -> np.ndarray:
    """(n,) uint8 kind of each token: special, whitespace only, a byte fragment, or ordinary.

    A byte fragment is a piece holding part of a multi-byte character (its readable text
    has an escaped lone byte); only byte-level and SentencePiece vocabularies have them.

    >>> token_kinds([" list", "[CLS]", " \\n", "\\\\xe6\\\\x97"], [False, True, False, False], "byte_bpe").tolist()
    [0, 1, 2, 3]
    """
    kinds = np.zeros(len(texts), dtype=np.uint8)
    fragments = family in SPACE_FAMILIES
    for i, (text, is_special) in enumerate(zip(texts, special)):
        if is_special:
            kinds[i] = SPECIAL
        elif not text.strip():
            kinds[i] = WHITESPACE
        elif fragments and has_byte_escape(text):
            kinds[i] = FRAGMENT
    return kinds


def community_labels(
    labels: np.ndarray,
    texts: Sequence[str],
    cited_counts: np.ndarray,
    kinds: np.ndarray,
    keys: Sequence[str | None],
    family: str,
    words: int = LABEL_WORDS,
) -> list[str]:
    """A label for each community id 0..max: its ``words`` most-cited whole-word members, one per variant group.

    Whole words are those :func:`atlas.core.variants.is_word` accepts. A community without any
    takes its most-cited ordinary members (numbers, punctuation, code); one with no
    ordinary member either is named by its kind ("special tokens", "whitespace",
    "byte fragments"). Members are shown trimmed and joined by " · ".

    >>> community_labels(np.array([0, 0, 0, 1]), [" List", " list", " lists", "1990"], np.array([5, 9, 1, 2]),
    ...                  np.zeros(4, np.uint8), ["list", "list", "lists", "1990"], "byte_bpe")
    ['list · lists', '1990']
    """
    count = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    order = np.lexsort(
        (np.arange(len(labels)), -cited_counts.astype(np.int64), labels)
    )  # by community, most cited first
    start = np.searchsorted(labels[order], np.arange(count))
    stop = np.searchsorted(labels[order], np.arange(count), side="right")
    names = []
    for c in range(count):
        members = order[start[c] : stop[c]]
        ordinary = [i for i in members.tolist() if kinds[i] == ORDINARY]
        whole = [i for i in ordinary if is_word(texts[i], family)]
        picked = _distinct(whole or ordinary, texts, keys, words)
        if picked:
            names.append(" · ".join(_shown(texts[i]) for i in picked))
        else:
            kind = int(np.bincount(kinds[members], minlength=4).argmax())
            names.append(
                {SPECIAL: "special tokens", WHITESPACE: "whitespace", FRAGMENT: "byte fragments"}.get(
                    kind, f"community {c}"
                )
            )
    return names


_SPACES = re.compile(r"\s+")


def _shown(text: str) -> str:
    return _SPACES.sub(" ", text.strip()) or text


def _distinct(rows: list[int], texts: Sequence[str], keys: Sequence[str | None], words: int) -> list[int]:
    """The first ``words`` rows whose variant key (or, without one, trimmed text) is new."""
    seen: set[str] = set()
    picked = []
    for i in rows:
        key = keys[i]
        if key is None:
            key = _shown(texts[i]).casefold()
        if key not in seen:
            seen.add(key)
            picked.append(i)
            if len(picked) == words:
                break
    return picked


def centres(labels: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """(c, 2) where each community's label goes: the median of its members' positions.

    >>> centres(np.array([0, 0, 0, 1]), np.array([[0, 0], [1, 1], [9, 2], [5, 5]], np.float32)).tolist()
    [[1.0, 1.0], [5.0, 5.0]]
    """
    count = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 0
    out = np.zeros((count, 2), dtype=np.float32)
    order = np.argsort(labels, kind="stable")
    bounds = np.searchsorted(labels[order], np.arange(count + 1))
    for c in range(count):
        out[c] = np.median(xy[order[bounds[c] : bounds[c + 1]]], axis=0)
    return out


# --- the map ---------------------------------------------------------------------------------


def layout(
    neighbours: np.ndarray,
    seed: int = 0,
    epochs: int = EPOCHS,
    min_dist: float = MIN_DIST,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """UMAP's 2D layout of the exact graph: (n, 2) float32, NaN for a row without edges.

    UMAP is given the graph itself, not the vectors, so it never searches for neighbours of
    its own: each row's neighbours at distances that grow with their rank
    (:func:`rank_distances`), so the map depends on the neighbour lists only, never on the
    scores' last bits. Seeded: the same lists, seed and epochs give the same positions (UMAP
    then runs on one thread).
    Positions are centred on the origin and scaled so the larger side spans 0..100.

    UMAP starts from a spectral layout of the whole graph. With ``labels`` (the rows'
    communities) it starts instead from the spectral layout of the community graph, each
    row near its community's place (:func:`community_start`): the eigenvectors of a graph
    of many tight clusters converge slowly (minutes for a 131,000-row component of the
    DeepSeek stand-in), those of its few thousand communities in a moment.

    Each edge sample pushes ``NEGATIVE_SAMPLES`` (12) random points away, against umap-learn's
    5: on MiniLM, 40 epochs so keep more of each token's 20 nearest (16.2 %) than 200 epochs
    with 5 (15.0 %), in under half the time; with fewer of them, points clump and fewer
    neighbours are kept.
    """
    check_neighbours(neighbours)
    integer(epochs, "epochs", 1)
    n, _k = neighbours.shape
    placed = has_edges(neighbours)
    xy = np.full((n, 2), np.nan, dtype=np.float32)
    if placed.sum() < 3:
        xy[placed] = 0.0
        return xy
    rows = np.flatnonzero(placed)
    index = np.full(n, -1, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    sub = np.where(neighbours[rows] >= 0, index[np.maximum(neighbours[rows], 0)], -1)  # (m, k) in placed numbering
    knn = np.concatenate([np.arange(len(rows))[:, None], sub], axis=1).astype(
        np.int32
    )  # UMAP counts a point as its own first neighbour
    dist = np.concatenate([np.zeros((len(rows), 1)), rank_distances(neighbours[rows])], axis=1)
    dist = np.where(knn >= 0, dist, 0.0).astype(np.float32)
    start = None
    if labels is not None:
        if labels.shape != (n,):
            raise InvalidArgument(f"labels must have one entry per row of the graph ({n}), got shape {labels.shape}")
        edges = np.ones(neighbours.shape, dtype=np.float64)  # links weighted by their edge counts
        start = community_start(labels, community_links(labels, neighbours, edges), seed)[rows]
    xy[rows] = _umap(knn, dist, seed, epochs, min_dist, start)
    return xy


def rank_distances(neighbours: np.ndarray) -> np.ndarray:
    """(n, k) float32: the distance the layout gives each row's neighbour at rank r (1-based): r / (2k).

    >>> rank_distances(np.array([[2, 1], [0, -1], [0, 1]])).tolist()
    [[0.25, 0.5], [0.25, 0.5], [0.25, 0.5]]
    """
    n, k = neighbours.shape
    return np.broadcast_to((np.arange(1, k + 1, dtype=np.float32) / (2 * k))[None, :], (n, k)).copy()


def community_start(labels: np.ndarray, links: np.ndarray, seed: int = 0) -> np.ndarray:
    """(n, 2) float32 starting positions for the layout: each row near its community's place.

    The communities are placed by a spectral layout of the community graph (``links``
    from :func:`community_links`, weighted by cosine sums; each connected part of it laid out
    apart); a row lies around its community's place, spread by a seeded normal of a third of
    the median distance between neighbouring places. Rows without a community (-1) get
    seeded uniform positions. Seeded: the same input gives the same positions.
    """
    from scipy.sparse import coo_matrix

    rng = np.random.default_rng(seed)
    n = len(labels)
    count = int(labels.max()) + 1 if n and labels.max() >= 0 else 0
    out = rng.uniform(0.0, 10.0, size=(n, 2))
    if count == 0:
        return out.astype(np.float32)
    if count <= 5:  # too few for a spectral layout: on a circle
        angle = 2 * np.pi * np.arange(count) / count
        places = 5.0 + 5.0 * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    else:
        a, b, w = links[:, 0].astype(np.int64), links[:, 1].astype(np.int64), links[:, 3]
        graph = coo_matrix(
            (np.concatenate([w, w]), (np.concatenate([a, b]), np.concatenate([b, a]))), shape=(count, count)
        )
        places = _spectral(graph.tocsr(), seed)
    low, high = places.min(axis=0), places.max(axis=0)
    places = 10.0 * (places - low) / np.maximum(high - low, 1e-12)
    if count > 1:
        from scipy.spatial import cKDTree

        gap, _ = cKDTree(places).query(places, 2)
        spread = max(float(np.median(gap[:, 1])) / 3, 1e-3)
    else:
        spread = 1.0
    member = labels >= 0
    out[member] = places[labels[member]] + rng.normal(scale=spread, size=(int(member.sum()), 2))
    return out.astype(np.float32)


def _spectral(graph, seed: int) -> np.ndarray:
    with _umap_seeded(seed):
        from umap.spectral import spectral_layout

        return np.asarray(spectral_layout(None, graph, 2, np.random.RandomState(seed)), dtype=np.float64)


def _umap(
    knn: np.ndarray, dist: np.ndarray, seed: int, epochs: int, min_dist: float, start: np.ndarray | None = None
) -> np.ndarray:
    with _umap_seeded(seed):
        from umap.umap_ import find_ab_params, simplicial_set_embedding

        graph = fuzzy_graph(knn, dist)
        a, b = find_ab_params(1.0, min_dist)
        embedding, _ = simplicial_set_embedding(
            None,
            graph,
            2,
            1.0,
            a,
            b,
            1.0,
            NEGATIVE_SAMPLES,
            epochs,
            "spectral" if start is None else start,
            np.random.RandomState(seed),
            "euclidean",
            {},
            False,
            {},
            False,
        )
    embedding = embedding.astype(np.float64)
    low, high = embedding.min(axis=0), embedding.max(axis=0)
    scale = 100.0 / max(float((high - low).max()), 1e-12)
    return ((embedding - (low + high) / 2) * scale).astype(np.float32)


def fuzzy_graph(knn: np.ndarray, dist: np.ndarray):
    """UMAP's fuzzy graph of a kNN graph (umap-learn's ``fuzzy_simplicial_set`` given the neighbours), in numpy.

    ``knn`` (m, k) int32 holds each row's neighbours with the row itself first (-1 for none),
    ``dist`` (m, k) float32 their distances (0 for itself). Each row's distances are smoothed
    as umap-learn does (``rho`` its nearest non-zero distance, ``sigma`` found by bisection so
    that its memberships sum to log2(k)), then the graph is made symmetric by the fuzzy union
    ``P + P.T - P * P.T``. umap-learn compiles its own version with numba at its first call in
    each process (about 7 s here, for a graph computed in 0.1 s); this one gives the same
    graph (tested against it) without compiling anything. Returns a scipy CSR matrix (m, m).
    """
    from scipy.sparse import coo_matrix

    m, k = knn.shape
    dist = np.ascontiguousarray(dist, dtype=np.float32)
    positive = dist > 0
    rho = np.where(positive.any(axis=1), np.where(positive, dist, np.inf).min(axis=1), 0.0).astype(np.float32)
    target = np.float32(np.log2(k))
    lo = np.zeros(m, np.float32)
    hi = np.full(m, np.finfo(np.float32).max, np.float32)
    mid = np.ones(m, np.float32)
    active = np.ones(m, bool)
    d = dist[:, 1:] - rho[:, None]  # (m, k - 1) float32
    for _ in range(64):
        rows = np.flatnonzero(active)
        if not len(rows):
            break
        dr, mr = d[rows], mid[rows]
        psum = (
            np.where(dr > 0, np.exp(-(np.maximum(dr, 0) / mr[:, None])), np.float32(1.0)).astype(np.float32).sum(axis=1)
        )
        done = np.abs(psum - target) < 1e-5
        over = ~done & (psum > target)
        under = ~done & ~over
        hi[rows[over]] = mr[over]
        mid[rows[over]] = (lo[rows[over]] + hi[rows[over]]) / np.float32(2.0)
        lo[rows[under]] = mr[under]
        grow = under & (hi[rows] >= np.finfo(np.float32).max)
        mid[rows[grow]] = mr[grow] * np.float32(2.0)
        halve = under & ~grow
        mid[rows[halve]] = (lo[rows[halve]] + hi[rows[halve]]) / np.float32(2.0)
        active[rows[done]] = False
    floor = np.where(rho > 0, dist.mean(axis=1), dist.mean()).astype(np.float32) * np.float32(1e-3)
    sigma = np.maximum(mid, floor)
    gap = dist - rho[:, None]
    values = np.where(
        (gap <= 0) | (sigma[:, None] == 0),
        np.float32(1.0),
        np.exp(-(np.maximum(gap, 0) / np.maximum(sigma[:, None], np.float32(1e-30)))).astype(np.float32),
    )
    source = np.repeat(np.arange(m), k).reshape(m, k)
    values = np.where(knn == source, np.float32(0.0), values)
    keep = (knn >= 0) & (values != 0)
    p = coo_matrix((values[keep], (source[keep], knn[keep])), shape=(m, m)).tocsr()
    t = p.transpose().tocsr()
    graph = (p + t - p.multiply(t)).tocsr()
    graph.eliminate_zeros()
    return graph


@contextmanager
def _umap_seeded(seed: int) -> Iterator[None]:
    """Run umap-learn quietly and reproducibly: its warnings are silenced, and numpy's global
    generator is seeded with ``seed`` meanwhile and restored after."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap warns about numba, disconnected graphs and its own defaults
        import umap  # noqa: F401  (loaded before the seeding, with its import warnings silenced too)

        state = np.random.get_state()
        np.random.seed(seed)  # umap places the parts of a disconnected graph with the global generator
        try:
            yield
        finally:
            np.random.set_state(state)


def preservation(neighbours: np.ndarray, xy: np.ndarray, k: int | None = None) -> float:
    """How much of each row's ``k`` nearest the map keeps: the mean share of them among its ``k`` nearest on the map.

    Rows without a position are left out.
    """
    from scipy.spatial import cKDTree

    k = neighbours.shape[1] if k is None else k
    placed = np.flatnonzero(np.isfinite(xy).all(axis=1))
    if len(placed) <= k:
        return float("nan")
    _, near = cKDTree(xy[placed]).query(xy[placed], k + 1)
    on_map = placed[near[:, 1:]]  # (m, k) row indices
    true = neighbours[placed, :k]
    hits = sum(len(set(a) & set(b)) for a, b in zip(on_map.tolist(), true.tolist()))
    return hits / (len(placed) * k)


FIRST_IMPORT = "libraries (compiling umap-learn's numba code: once after installing)"  # the stage's name then


def compiled_before() -> bool:
    """Whether numba's cache holds pynndescent's compiled code (umap-learn imports pynndescent).

    Without it, the first ``import umap`` after installing compiles it and writes the cache:
    20 to 40 s on two cores, against a few seconds on every later run.
    """
    import sys
    from importlib.util import find_spec
    from pathlib import Path

    if "umap" in sys.modules:
        return True
    spec = find_spec("pynndescent")
    if spec is None or not spec.submodule_search_locations:
        return True  # no pynndescent: nothing to compile (the import will say what is missing)
    from numba import config  # where numba keeps its cache: its own setting, else beside the code

    cache_dir = getattr(config, "CACHE_DIR", "")  # set from NUMBA_CACHE_DIR when numba is imported
    folders = (
        [Path(cache_dir)] if cache_dir else [Path(folder) / "__pycache__" for folder in spec.submodule_search_locations]
    )
    return any(next(folder.rglob("rp_trees*.nbi"), None) is not None for folder in folders if folder.is_dir())


def import_libraries() -> None:
    """Import the analysis's libraries (igraph, umap-learn), so no stage's time includes them.

    umap-learn takes seconds to import (with scikit-learn and numba), and only the analysis
    needs them.
    """
    import igraph  # noqa: F401
    import umap  # noqa: F401


@contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for a block that makes millions of small acyclic objects.

    Handing igraph and UMAP a graph of 600,000 edges makes that many small lists and tuples;
    the collector's passes over them cost more than the work (about 2.7 s of MiniLM's 20 s
    analysis). Nothing made here forms a cycle, so reference counting frees it all the same.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


# --- everything at once ----------------------------------------------------------------------


def analyse(
    neighbours: np.ndarray,
    scores: np.ndarray,
    texts: Sequence[str],
    special: Sequence[bool],
    keys: Sequence[str | None],
    family: str,
    *,
    resolution: float = RESOLUTION,
    seed: int = 0,
    epochs: int = EPOCHS,
    stage: Stage | None = None,
) -> Analysis:
    """Hubs, mutual pairs, graph measures, communities with labels and links, and the map, of one graph.

    ``texts``, ``special`` and ``keys`` (variant keys, None for none) describe the rows.
    ``stage(name)`` is told as each of "libraries" (importing igraph and umap-learn, a few
    seconds; on the first run after installing, when it compiles umap-learn's numba code,
    :data:`FIRST_IMPORT` instead), "hubs", "measures", "communities" and "layout" starts.
    """
    check_graph(neighbours, scores)
    if not (len(texts) == len(special) == len(keys) == neighbours.shape[0]):
        raise InvalidArgument("texts, special and keys must have one entry per row of the graph")
    stage = stage or ignore
    with gc_paused():
        stage("libraries" if compiled_before() else FIRST_IMPORT)
        import_libraries()
        stage("hubs")
        in_degree = cited(neighbours)
        both = mutual(neighbours)
        stage("measures")
        pairs = pair_directions(neighbours)
        simple = simple_graph(neighbours.shape[0], pairs[0])
        found_measures = measures(neighbours, scores, simple=simple)
        stage("communities")
        labels, modularity = communities(neighbours, resolution, seed, pairs=pairs, graph=simple)
        stage("layout")
        xy = layout(neighbours, seed, epochs, labels=labels)
    kinds = token_kinds(texts, special, family)
    names = community_labels(labels, texts, in_degree, kinds, keys, family)
    where = centres(labels, np.nan_to_num(xy))
    sizes = np.bincount(labels[labels >= 0], minlength=len(names))
    found = [Community(c, int(sizes[c]), names[c], float(where[c, 0]), float(where[c, 1])) for c in range(len(names))]
    return Analysis(
        cited=in_degree,
        mutual=both,
        community=labels,
        xy=xy,
        communities=found,
        links=community_links(labels, neighbours, scores),
        modularity=modularity,
        measures=found_measures,
        settings={
            "resolution": float(resolution),
            "seed": int(seed),
            "epochs": int(epochs),
            "min_dist": MIN_DIST,
            "negative_samples": NEGATIVE_SAMPLES,
        },
    )
