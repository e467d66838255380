"""Writing a comparison of two models: a SAME_TOKEN link per matched token pair, and a Comparison node.

``(a:Token)-[:SAME_TOKEN {matched_by, jaccard, rbo, k}]->(b:Token)`` goes from model A's token
to its partner in model B; ``(:Comparison {a, b, k, mean_jaccard, ...})-[:COMPARES {side}]->(:Model)``
holds the figures. Writing the comparison of A with B again replaces both: the old node and
links are deleted first, then the node is written with ``status: 'writing'`` before any link,
and its figures with ``status: 'complete'`` after the last one; so links whose Comparison node
says ``'writing'`` belong to an unfinished comparison (one that was stopped: compare again).
Deleting either model deletes them (``cypher/model_delete_batch.cypher``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from atlas.core.overlap import WAYS, Matching
from atlas.core.progress import ignore
from atlas.graph.store import Store
from atlas.graph.write_params import batched


def same_token_rows(
    ids_a: np.ndarray, ids_b: np.ndarray, matching: Matching, jaccard: np.ndarray, rbo: np.ndarray
) -> list[dict]:
    """One row per matched pair: ``{a, b, by, jaccard, rbo}`` with token ids (not rows).

    >>> from atlas.core.overlap import match_tokens
    >>> m = match_tokens(["x", "y"], [None, None], ["y", "z"], [None, None], False)
    >>> same_token_rows(np.array([4, 7]), np.array([2, 9]), m, np.array([0.5]), np.array([0.25]))
    [{'a': 7, 'b': 2, 'by': 'text', 'jaccard': 0.5, 'rbo': 0.25}]
    """
    return [
        {"a": a, "b": b, "by": WAYS[w], "jaccard": j, "rbo": r}
        for a, b, w, j, r in zip(
            ids_a[matching.a_rows].tolist(),
            ids_b[matching.b_rows].tolist(),
            matching.way.tolist(),
            jaccard.tolist(),
            rbo.tolist(),
        )
    ]


def write_comparison(
    store: Store,
    a: str,
    b: str,
    k: int,
    rows: list[dict],
    props: dict,
    batch_size: int = 10_000,
    done: Callable[[int], None] | None = None,
) -> None:
    """Store the comparison of model ``a`` with model ``b``: ``rows`` (see :func:`same_token_rows`) as SAME_TOKEN
    links, ``props`` on the Comparison node; replaces an earlier comparison of the two."""
    done = done or ignore
    store.ensure_schema()
    store.write("comparison_delete", a=a, b=b)
    store.delete_batches("comparison_tokens_delete_batch", a=a, b=b, limit=batch_size)
    store.write("comparison_write", a=a, b=b, props={"k": k, "status": "writing"})
    batches = list(batched(rows, batch_size))
    for batch, _ in zip(batches, store.write_batches("comparison_tokens_write", batches, a=a, b=b, k=k)):
        done(len(batch))
    store.write("comparison_write", a=a, b=b, props={**props, "k": k, "status": "complete"})
