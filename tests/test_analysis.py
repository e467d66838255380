"""The network analysis against references: a planted partition, brute-force counts, determinism, labels."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from atlas.core import analysis
from atlas.core.topk import all_neighbours
from atlas.errors import InvalidArgument


def planted(groups: int = 12, size: int = 60, dim: int = 48, spread: float = 0.35, seed: int = 0):
    """Unit vectors around ``groups`` random centres: ``(matrix (groups * size, dim), truth (n,))``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(groups, dim))
    truth = np.repeat(np.arange(groups), size)
    matrix = centres[truth] + spread * rng.normal(size=(len(truth), dim)) * np.sqrt(1.0 / dim) * 4
    return matrix.astype(np.float32), truth


def nmi(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised mutual information (arithmetic mean normalisation), from the contingency table."""
    n = len(a)
    joint = Counter(zip(a.tolist(), b.tolist()))
    pa, pb = Counter(a.tolist()), Counter(b.tolist())
    mi = sum(c / n * math.log(c * n / (pa[x] * pb[y])) for (x, y), c in joint.items())
    ha = -sum(c / n * math.log(c / n) for c in pa.values())
    hb = -sum(c / n * math.log(c / n) for c in pb.values())
    return 2 * mi / (ha + hb) if ha + hb else 1.0


@pytest.fixture(scope="module")
def graph():
    matrix, truth = planted()
    ids, scores = all_neighbours(matrix, 10)
    return ids.astype(np.int32), scores, truth


def test_planted_partition_is_recovered(graph):
    ids, _, truth = graph
    labels, modularity = analysis.communities(ids, resolution=1.0, seed=0)
    assert nmi(labels, truth) >= 0.9
    assert modularity > 0.5
    assert labels.min() == 0 and set(np.unique(labels)) == set(range(labels.max() + 1))
    sizes = np.bincount(labels)
    assert (np.diff(sizes) <= 0).all(), "communities are numbered by size, largest first"


def test_communities_are_deterministic_for_a_seed(graph):
    ids, _, _ = graph
    first, _ = analysis.communities(ids, resolution=5.0, seed=3)
    again, _ = analysis.communities(ids, resolution=5.0, seed=3)
    assert (first == again).all()
    finer, _ = analysis.communities(ids, resolution=50.0, seed=3)
    assert finer.max() > first.max(), "a higher resolution gives more communities"


def test_communities_are_the_same_on_every_call_and_in_a_fresh_process(tmp_path):
    """A graph without planted groups leaves Leiden many near-ties: only a fully seeded run repeats itself."""
    import subprocess
    import sys

    ids, _ = all_neighbours(np.random.default_rng(5).normal(size=(3000, 16)).astype(np.float32), 10)
    runs = [analysis.communities(ids, seed=1)[0] for _ in range(3)]
    np.save(tmp_path / "ids.npy", ids)
    code = (
        "import sys, numpy as np; from atlas.core import analysis; "
        "ids = np.load(sys.argv[1]); np.save(sys.argv[2], analysis.communities(ids, seed=1)[0])"
    )
    subprocess.run([sys.executable, "-c", code, tmp_path / "ids.npy", tmp_path / "labels.npy"], check=True)
    runs.append(np.load(tmp_path / "labels.npy"))
    assert runs[0].max() > 20, "a graph with many communities"
    for other in runs[1:]:
        assert np.array_equal(runs[0], other)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_modularity_matches_igraph(seed):
    """The modularity every report gives is igraph's (resolution 1) on the same weighted pairs."""
    import igraph

    rng = np.random.default_rng(seed)
    ids = rng.integers(-1, 60, size=(60, 6))
    pairs, directions = analysis.pair_directions(ids)
    labels = rng.integers(-1, 5, size=60)
    weights = directions.astype(np.float64)
    graph = igraph.Graph(n=60, edges=pairs.tolist())
    want = graph.modularity(np.maximum(labels, 0).tolist(), weights=weights.tolist())
    assert analysis.modularity(60, pairs, weights, labels) == pytest.approx(want, abs=1e-12)
    found, q = analysis.communities(ids, resolution=1.0, seed=seed)
    assert q == pytest.approx(graph.modularity(np.maximum(found, 0).tolist(), weights=weights.tolist()), abs=1e-12)
    assert q > 0.2, "Leiden finds structure a random partition lacks"


def brute_cited(ids: np.ndarray) -> np.ndarray:
    counts = np.zeros(len(ids), dtype=int)
    for row in ids:
        for j in row:
            if j >= 0:
                counts[j] += 1
    return counts


def brute_mutual(ids: np.ndarray) -> np.ndarray:
    lists = [set(r[r >= 0].tolist()) for r in ids]
    return np.array([[j >= 0 and i in lists[j] for j in row.tolist()] for i, row in enumerate(ids)])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cited_and_mutual_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(150, 8)).astype(np.float32)
    matrix[[7, 40]] = 0  # zero rows: no neighbours, nobody's neighbour
    ids, _ = all_neighbours(matrix, 6)
    assert (analysis.cited(ids) == brute_cited(ids)).all()
    assert (analysis.mutual(ids) == brute_mutual(ids)).all()
    assert analysis.cited(ids).sum() == (ids >= 0).sum()


def knn_graph(seed: int, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    """A seeded exact kNN graph with two rows that have no edges (zero vectors)."""
    rng = np.random.default_rng(seed)
    matrix = rng.normal(size=(n, 8)).astype(np.float32)
    matrix[[3, n // 2]] = 0
    ids, scores = all_neighbours(matrix, k)
    return ids.astype(np.int32), scores


def networkx_graphs(ids: np.ndarray, scores: np.ndarray):
    """The same graph in networkx: directed (weighted by cosine, at least 1e-6) and undirected simple."""
    import networkx as nx

    directed, simple = nx.DiGraph(), nx.Graph()
    directed.add_nodes_from(range(len(ids)))
    simple.add_nodes_from(range(len(ids)))
    for i, (row, cosines) in enumerate(zip(ids.tolist(), scores.tolist())):
        for j, w in zip(row, cosines):
            if j >= 0:
                directed.add_edge(i, j, weight=max(w, 1e-6))
                simple.add_edge(i, j)
    return directed, simple


@pytest.mark.parametrize(("seed", "n", "k"), [(0, 60, 3), (1, 120, 6), (2, 200, 10)])
def test_measures_match_networkx(seed, n, k):
    import networkx as nx

    ids, scores = knn_graph(seed, n, k)
    found = analysis.measures(ids, scores)
    directed, simple = networkx_graphs(ids, scores)
    assert found.out_degree.tolist() == [directed.out_degree(i) for i in range(n)]
    assert analysis.cited(ids).tolist() == [directed.in_degree(i) for i in range(n)]
    rank = nx.pagerank(directed, alpha=analysis.DAMPING, weight="weight", tol=1e-12, max_iter=1000)
    assert found.pagerank == pytest.approx([rank[i] for i in range(n)], rel=1e-6, abs=1e-9)
    assert found.pagerank.sum() == pytest.approx(1.0)
    core = nx.core_number(simple)
    assert found.core.tolist() == [core[i] for i in range(n)]
    clustering = nx.clustering(simple)
    assert found.clustering == pytest.approx([clustering[i] for i in range(n)], abs=1e-12)
    assert found.out_degree[3] == found.core[3] == 0 and found.clustering[3] == 0.0


def test_links_sum_to_the_cross_community_edges(graph):
    ids, scores, _ = graph
    labels, _ = analysis.communities(ids, resolution=20.0, seed=0)
    links = analysis.community_links(labels, ids, scores)
    source = np.repeat(np.arange(len(ids)), ids.shape[1])
    target = ids.ravel()
    cross = labels[source] != labels[target]
    assert links[:, 2].sum() == cross.sum()
    assert math.isclose(links[:, 3].sum(), float(scores.ravel()[cross].astype(np.float64).sum()), rel_tol=1e-9)
    assert (links[:, 0] < links[:, 1]).all()
    pairs = {(int(a), int(b)) for a, b in links[:, :2]}
    assert len(pairs) == len(links)


def test_pairs_each_once_with_their_directions():
    ids = np.array([[1, 2], [0, 2], [0, -1]])
    pairs, directions = analysis.pair_directions(ids)
    assert pairs.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert directions.tolist() == [2, 2, 1]


def test_communities_and_map_ignore_the_scores_last_bits():
    """Cosines from different BLAS kernels differ in their last bits: the analysis must not follow them."""
    matrix, _ = planted()
    ids, scores = all_neighbours(matrix, 10)
    texts, special, keys = [f"t{i}" for i in range(len(ids))], [False] * len(ids), [None] * len(ids)
    noise = np.random.default_rng(7).uniform(-1e-7, 1e-7, scores.shape)
    nudged = (scores.astype(np.float64) + noise).astype(np.float32)
    assert (nudged != scores).mean() > 0.5
    first = analysis.analyse(ids, scores, texts, special, keys, "bert", epochs=60)
    again = analysis.analyse(ids, nudged, texts, special, keys, "bert", epochs=60)
    assert np.array_equal(first.community, again.community)
    assert np.array_equal(first.xy, again.xy)
    assert first.modularity == again.modularity


def test_layout_is_deterministic_and_keeps_neighbours_near(graph):
    ids, _, truth = graph
    first = analysis.layout(ids, seed=1, epochs=60)
    again = analysis.layout(ids, seed=1, epochs=60)
    assert first.dtype == np.float32 and first.shape == (len(ids), 2)
    assert np.array_equal(first, again)
    assert np.isfinite(first).all()
    assert math.isclose(float(np.ptp(first, axis=0).max()), 100.0, rel_tol=1e-4)
    # the planted groups come apart on the map: a point's nearest on the map share its group
    from scipy.spatial import cKDTree

    _, near = cKDTree(first).query(first, 11)
    assert (truth[near[:, 1:]] == truth[:, None]).mean() > 0.9
    kept = analysis.preservation(ids, first)
    random = analysis.preservation(ids, np.random.default_rng(0).normal(size=first.shape).astype(np.float32))
    assert kept > 0.2 and kept > 10 * random


def test_layout_from_the_communities_is_deterministic_and_keeps_groups_apart(graph):
    """With labels, UMAP starts from the community graph's spectral layout: same quality, same determinism."""
    from scipy.spatial import cKDTree

    ids, scores, truth = graph
    labels, _ = analysis.communities(ids, resolution=1.0, seed=0)
    start = analysis.community_start(labels, analysis.community_links(labels, ids, scores), seed=2)
    assert start.shape == (len(ids), 2) and np.isfinite(start).all()
    assert np.array_equal(
        start, analysis.community_start(labels, analysis.community_links(labels, ids, scores), seed=2)
    )
    _, near = cKDTree(start).query(start, 6)
    assert (labels[near[:, 1:]] == labels[:, None]).mean() > 0.8, "rows start beside their community"
    first = analysis.layout(ids, seed=1, epochs=60, labels=labels)
    assert np.array_equal(first, analysis.layout(ids, seed=1, epochs=60, labels=labels))
    _, near = cKDTree(first).query(first, 11)
    assert (truth[near[:, 1:]] == truth[:, None]).mean() > 0.9
    assert analysis.preservation(ids, first) > 0.2
    with pytest.raises(InvalidArgument, match="one entry per row"):
        analysis.layout(ids, labels=labels[:-1])


def test_community_start_without_communities_and_with_few():
    """Rows of no community get seeded uniform places; two communities are put apart, on a circle."""
    labels = np.array([-1] + [0] * 100 + [1] * 100 + [-1])
    links = np.array([[0.0, 1.0, 2.0, 1.0]])
    start = analysis.community_start(labels, links, seed=0)
    assert np.isfinite(start).all()
    apart = np.linalg.norm(start[labels == 0].mean(axis=0) - start[labels == 1].mean(axis=0))
    assert apart > 5, "the two communities start on opposite sides of a circle of diameter 10"
    nobody = analysis.community_start(np.full(4, -1), np.zeros((0, 4)), seed=0)
    assert ((nobody >= 0) & (nobody <= 10)).all()


def test_rows_without_edges_get_no_place_and_no_community():
    rng = np.random.default_rng(4)
    matrix = rng.normal(size=(80, 6)).astype(np.float32)
    matrix[[3, 50]] = 0
    ids, _ = all_neighbours(matrix, 5)
    xy = analysis.layout(ids, epochs=20)
    labels, _ = analysis.communities(ids)
    assert np.isnan(xy[[3, 50]]).all() and np.isfinite(np.delete(xy, [3, 50], axis=0)).all()
    assert (labels[[3, 50]] == -1).all() and (np.delete(labels, [3, 50]) >= 0).all()


def test_token_kinds():
    texts = [" list", "[CLS]", "  \n", "\\xe6\\x97", "\\\\xaa", "##ing", " 2025"]
    special = [False, True, False, False, False, False, False]
    kinds = analysis.token_kinds(texts, special, "byte_bpe").tolist()
    assert kinds == [analysis.ORDINARY, analysis.SPECIAL, analysis.WHITESPACE, analysis.FRAGMENT, 0, 0, 0]
    assert analysis.token_kinds(["\\xe6"], [False], "wordpiece").tolist() == [0], "WordPiece has no byte pieces"


def test_labels_are_whole_words_one_per_variant_group_most_cited_first():
    texts = [
        " Church",
        " church",
        " CHURCH",
        " monastery",
        "[SEP]",
        " \n",
        "\\xe6",
        " abbey",
        "ch",
        " 1990",
        " 1991",
        "[PAD]",
    ]
    special = [False, False, False, False, True, False, False, False, False, False, False, True]
    keys = ["church", "church", "church", "monastery", None, None, "\\xe6", "abbey", "ch", "1990", "1991", None]
    cited = np.array([50, 90, 1, 40, 999, 500, 400, 30, 800, 5, 7, 3])
    labels = np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2])
    kinds = analysis.token_kinds(texts, special, "byte_bpe")
    names = analysis.community_labels(labels, texts, cited, kinds, keys, "byte_bpe")
    assert names == ["church · monastery · abbey", "1991 · 1990", "special tokens"]


def test_analyse_puts_it_together(graph):
    ids, scores, truth = graph
    n = len(ids)
    texts = [f" w{truth[i]}x{i}" for i in range(n)]
    result = analysis.analyse(ids, scores, texts, [False] * n, [None] * n, "byte_bpe", resolution=1.0, epochs=30)
    assert len(result.communities) == result.community.max() + 1
    assert sum(c.size for c in result.communities) == n
    assert [c.id for c in result.communities] == list(range(len(result.communities)))
    assert result.settings == {
        "resolution": 1.0,
        "seed": 0,
        "epochs": 30,
        "min_dist": analysis.MIN_DIST,
        "negative_samples": analysis.NEGATIVE_SAMPLES,
    }
    assert result.cited_skewness == pytest.approx(analysis.skewness(brute_cited(ids)))
    assert result.measures is not None and (result.measures.out_degree == (ids >= 0).sum(axis=1)).all()


def test_bad_graphs_are_refused():
    with pytest.raises(InvalidArgument, match=r"neighbours and scores must both be \(n, k\)"):
        analysis.measures(np.zeros((3, 2), int), np.zeros((3, 3)))
    with pytest.raises(InvalidArgument, match=r"neighbour indices must lie in -1\.\.2"):
        analysis.layout(np.array([[1], [5], [0]]))
    with pytest.raises(InvalidArgument, match="resolution must be above 0"):
        analysis.communities(np.array([[1], [0]]), resolution=0)
    with pytest.raises(InvalidArgument, match="at least 1 pass"):
        analysis.communities(np.array([[1], [0]]), iterations=0)


@pytest.mark.parametrize(("n", "k", "distances"), [(200, 5, "rank"), (500, 10, "rank"), (300, 3, "cosine")])
def test_the_fuzzy_graph_is_umaps(n, k, distances):
    """analysis.fuzzy_graph against umap-learn's own fuzzy_simplicial_set given the same neighbours and distances."""
    from umap.umap_ import fuzzy_simplicial_set

    rng = np.random.default_rng(n)
    ids, scores = all_neighbours(rng.normal(size=(n, 16)).astype(np.float32), k)
    ids[3] = -1  # a row without neighbours of its own
    ids[5, 2:] = -1  # and one with fewer than k
    knn = np.concatenate([np.arange(n)[:, None], ids], axis=1).astype(np.int32)
    spread = analysis.rank_distances(ids) if distances == "rank" else (1 - scores).astype(np.float32)
    dist = np.where(knn >= 0, np.concatenate([np.zeros((n, 1)), spread], axis=1), 0).astype(np.float32)
    reference, _, _ = fuzzy_simplicial_set(
        np.zeros((n, 1), np.float32), k + 1, np.random.RandomState(0), "cosine", knn_indices=knn, knn_dists=dist
    )
    ours = analysis.fuzzy_graph(knn, dist)
    assert ours.shape == (n, n) and ours.nnz == reference.nnz
    np.testing.assert_allclose(ours.toarray(), reference.toarray(), rtol=0, atol=2e-5)


@pytest.mark.parametrize("cached", [False, True])
def test_compiled_before_looks_in_numbas_cache(tmp_path, cached):
    """A fresh process with an empty numba cache (a fresh install) would compile: the analysis names that stage."""
    if cached:
        (tmp_path / "pynndescent").mkdir()
        (tmp_path / "pynndescent" / "rp_trees.make_tree-100.py311.nbi").write_bytes(b"")
    code = "from atlas.core.analysis import compiled_before; print(compiled_before())"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(cached)
