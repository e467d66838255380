"""Subgraphs built from query rows, and variants collapsed into one node each, without a database."""

from __future__ import annotations

from atlas.core.subgraph import collapse


def test_collapse_merges_parallel_edges_keeping_best():
    from atlas.core.subgraph import Edge, Node, Subgraph

    g = Subgraph(
        "m",
        "t",
        [
            Node(3, " list", variant="list", seed=True),
            Node(1, "list", variant="list"),
            Node(5, "cat", variant="cat"),
            Node(8, " cat", variant="cat"),
            Node(0, "<s>", special=True),
        ],
        [
            Edge(1, 3, 0.99, 1),
            Edge(3, 1, 0.99, 1),  # inside a group: dropped
            Edge(1, 5, 0.40, 3),
            Edge(3, 8, 0.70, 2),
            Edge(3, 5, 0.70, 1),  # merged: 0.70, the lower rank wins the tie
            Edge(8, 1, 0.30, 4),
            Edge(0, 8, 0.10, 2),
        ],
    )
    c = collapse(g)
    assert [(n.id, n.text, n.members, n.seed) for n in c.nodes] == [
        (0, "<s>", (), False),
        (1, "list", (1, 3), True),
        (5, "cat", (5, 8), False),
    ]
    assert [(e.source, e.target, e.score, e.rank) for e in c.edges] == [
        (0, 5, 0.10, 2),
        (1, 5, 0.70, 1),
        (5, 1, 0.30, 4),
    ]


def test_subgraph_rows_carry_the_analysis_and_collapse_keeps_the_representatives():
    from atlas.core.subgraph import Node, subgraph_from_rows

    rows = [
        {
            "nodes": [
                {
                    "id": 4,
                    "text": " List",
                    "variant": "list",
                    "community": 2,
                    "community_label": "list · array",
                    "cited": 9,
                    "x": -1.5,
                    "y": 2.0,
                },
                {
                    "id": 1,
                    "text": "list",
                    "variant": "list",
                    "seed": True,
                    "community": 0,
                    "community_label": "list",
                    "cited": 30,
                    "x": 12,
                    "y": 7.25,
                },
                {"id": 7, "text": "cat"},  # before an analysis: none of it
                {
                    "id": 9,
                    "text": "[PAD]",
                    "special": True,
                    "cited": 0,
                    "community": None,
                    "x": float("nan"),
                    "y": None,
                },
            ],
            "edges": [],
        }
    ]
    g = subgraph_from_rows("m", "t", rows, "test")
    by_id = {n.id: n for n in g.nodes}
    assert by_id[1] == Node(
        1, "list", variant="list", seed=True, community=0, community_label="list", cited=30, x=12.0, y=7.25
    )
    assert type(by_id[1].x) is float and type(by_id[1].community) is int
    assert (by_id[7].community, by_id[7].community_label, by_id[7].cited, by_id[7].x, by_id[7].y) == (None,) * 5
    assert (by_id[9].cited, by_id[9].x) == (0, None)  # a non-finite position is no position
    (group, _cat, _pad) = collapse(g).nodes
    assert (group.id, group.members, group.community, group.community_label, group.cited, group.x, group.y) == (
        1,
        (1, 4),
        0,
        "list",
        30,
        12.0,
        7.25,
    )
