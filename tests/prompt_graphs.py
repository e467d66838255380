"""A seeded synthetic subgraph the size of a prompt's graph on the flagship model, for pages in real Chromium.

The article's prompt on DeepSeek-R1-Distill-Qwen-1.5B (151,665 tokens, k=20) draws about 600 tokens and
4,000 edges. ``prompt_sized_subgraph`` builds one of that size without a database: a cluster of tokens
around each prompt token (the seeds), exact top-k cosine edges among all of them, communities with labels,
in-degrees, and map positions placed the way a map places them (each cluster in its own spot).
"""

from __future__ import annotations

import numpy as np

from atlas.core.subgraph import Edge, Node, Subgraph

WORDS = ["agent", "model", "topic", "heat", "list", "river", "code", "data", "graph", "token", "word", "light"]


def prompt_sized_subgraph(
    seeds: int = 16, per_seed: int = 36, k: int = 7, dim: int = 16, seed: int = 0, positions: bool = True
) -> Subgraph:
    """``seeds`` clusters of 1 + ``per_seed`` tokens (592 by default) with ``k`` nearest each (4,144 edges).

    Token ``100 + i``; the first token of each cluster is a seed. Two neighbouring clusters share a
    community (id = cluster // 2, so ids 0..seeds/2-1), and every tenth token sits in community 40 + its
    cluster, a small community of its own. ``positions=False`` leaves the map positions out.
    """
    rng = np.random.default_rng(seed)
    n = seeds * (1 + per_seed)
    cluster = np.repeat(np.arange(seeds), 1 + per_seed)  # (n,)
    centres = rng.standard_normal((seeds, dim))  # (seeds, dim)
    vectors = centres[cluster] + 0.45 * rng.standard_normal((n, dim))  # (n, dim)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    sims = unit @ unit.T  # (n, n): small
    np.fill_diagonal(sims, -np.inf)
    nearest = np.argsort(-sims, axis=1, kind="stable")[:, :k]  # (n, k) best first
    spots = rng.uniform(-45, 45, size=(seeds, 2))  # each cluster's place on the map
    xy = spots[cluster] + 2.5 * rng.standard_normal((n, 2))  # (n, 2)
    cited = np.bincount(nearest.ravel(), minlength=n)
    nodes = []
    for i in range(n):
        c = int(cluster[i])
        community = 40 + c if i % 10 == 9 else c // 2
        word = WORDS[c % len(WORDS)]
        nodes.append(
            Node(
                id=100 + i,
                text=(" " if i % 3 else "") + f"{word}{i}",
                raw=f"Ġ{word}{i}",
                variant=f"{word}{i}",
                seed=i % (1 + per_seed) == 0,
                community=community,
                community_label=f"{WORDS[community % len(WORDS)]} · {WORDS[(community + 5) % len(WORDS)]} · {community}",
                cited=int(cited[i]),
                x=float(xy[i, 0]) if positions else None,
                y=float(xy[i, 1]) if positions else None,
            )
        )
    edges = [
        Edge(100 + i, 100 + int(j), float(sims[i, j]), rank)
        for i in range(n)
        for rank, j in enumerate(nearest[i].tolist(), start=1)
    ]
    return Subgraph("synthetic/prompt-sized", f"a prompt-sized graph: {n} tokens, {len(edges)} edges", nodes, edges)
