"""Comparing two stored models: read both graphs back, match their tokens, measure how alike each token's
neighbourhoods are, store the comparison in the graph and sum it up.

The pure work is :mod:`atlas.core.overlap`; the writes are :mod:`atlas.graph.comparisons`. Both
models' leases are held while it runs, so neither is deleted or reloaded under it.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import Any

import numpy as np

from atlas.core import arguments
from atlas.core.overlap import (
    WAYS,
    Matching,
    P,
    deciles,
    held_together,
    histogram,
    match_tokens,
    overlaps,
    same_tokenizer,
)
from atlas.core.progress import StageProgress, ignore
from atlas.errors import InvalidArgument, TokenNotFound
from atlas.graph.comparisons import same_token_rows, write_comparison
from atlas.graph.lease import Lease
from atlas.graph.queries import browser_line
from atlas.graph.store import Store
from atlas.graph.stored_graph import StoredGraph, read_graph
from atlas.results import Comparison
from atlas.views.lookup import find_token


def check_compare_k(props_a: dict, props_b: dict, k: Any) -> int:
    """``k`` (None: the smaller stored k) as an int in 1..both models' k, else InvalidArgument naming the stored k."""
    low = min(int(props_a["k"]), int(props_b["k"]))
    if k is None:
        return low
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= low:
        stored = ", ".join(
            f"{p['name']!r} k={int(p['k'])}" for p in {p["name"]: p for p in (props_a, props_b)}.values()
        )
        raise InvalidArgument(f"k must be between 1 and {low}, the neighbours both models hold ({stored}); got {k!r}")
    return int(k)


def compare_models(
    store: Store,
    a: str,
    b: str,
    k: int | None = None,
    *,
    top: int = 10,
    token: str | None = None,
    batch_size: int = 10_000,
    on_progress: StageProgress | None = None,
) -> Comparison:
    """Compare model ``a`` with model ``b`` at depth ``k``, store the comparison, and return its summary.

    The summary (see :class:`atlas.results.Comparison`): the figures stored on the
    Comparison node, the ``top`` tokens that changed most and least (special tokens left out),
    examples of unmatched tokens, the communities of ``a`` and how they held together in ``b``
    (None unless both are analysed), every matched pair as columns (``pairs``), and with
    ``token`` (an exact text of ``a``) both its neighbourhoods (``page``).
    """
    progress = on_progress or ignore
    top = arguments.integer(top, "top", 1)
    props_a, props_b = store.require_model(a), store.require_model(b)
    k = check_compare_k(props_a, props_b, k)
    if token is not None:
        find_token(store, a, token)  # before the work: an unknown token is one line naming close tokens
    with contextlib.ExitStack() as held:
        for name in dict.fromkeys((a, b)):
            held.enter_context(Lease(store, name))
        graph_a = read_graph(store, a, done=lambda n: progress("read", n, 0))
        graph_b = graph_a if b == a else read_graph(store, b, done=lambda n: progress("read", n, 0))
        same = same_tokenizer(
            props_a.get("family", "other"),
            graph_a.ids,
            graph_a.text,
            props_b.get("family", "other"),
            graph_b.ids,
            graph_b.text,
        )
        matching = match_tokens(graph_a.text, graph_a.keys, graph_b.text, graph_b.keys, same)
        if len(matching) == 0:
            raise InvalidArgument(
                f"models {a!r} and {b!r} share no token (by id, text or variant key); there is nothing to compare"
            )
        jaccard, rbo = overlaps(graph_a.neighbours, graph_b.neighbours, matching, k)
        figures = _figures(graph_a, graph_b, matching, jaccard, rbo, same)
        communities, together = _communities(store, graph_a, graph_b, matching, top)
        figures["held_together"] = together
        rows = same_token_rows(graph_a.ids, graph_b.ids, matching, jaccard, rbo)
        write_comparison(
            store,
            a,
            b,
            k,
            rows,
            {key: value for key, value in figures.items() if value is not None},
            batch_size,
            done=lambda n: progress("write", n, len(rows)),
        )
    special = np.asarray(graph_a.special, bool)[matching.a_rows] | np.asarray(graph_b.special, bool)[matching.b_rows]
    ordinary = np.flatnonzero(~special)
    most = ordinary[np.lexsort((matching.a_rows[ordinary], jaccard[ordinary], rbo[ordinary]))[:top]]
    least = ordinary[np.lexsort((matching.a_rows[ordinary], -jaccard[ordinary], -rbo[ordinary]))[:top]]
    return Comparison(
        a=a,
        b=b,
        k=k,
        figures=figures,
        changed_most=[_pair(graph_a, graph_b, matching, jaccard, rbo, j) for j in most.tolist()],
        changed_least=[_pair(graph_a, graph_b, matching, jaccard, rbo, j) for j in least.tolist()],
        unmatched_a=_examples(graph_a, matching.unmatched_a, top),
        unmatched_b=_examples(graph_b, matching.unmatched_b, top),
        communities=communities,
        analysed={a: props_a.get("analysis") == "complete", b: props_b.get("analysis") == "complete"},
        pairs={
            "a_id": graph_a.ids[matching.a_rows].tolist(),
            "b_id": graph_b.ids[matching.b_rows].tolist(),
            "text_a": [graph_a.text[r] for r in matching.a_rows.tolist()],
            "text_b": [graph_b.text[r] for r in matching.b_rows.tolist()],
            "matched_by": [WAYS[w] for w in matching.way.tolist()],
            "jaccard": jaccard.tolist(),
            "rbo": rbo.tolist(),
        },
        page=None if token is None else _page(graph_a, graph_b, matching, jaccard, rbo, token, k),
        browser_query=browser_line("browser_compare", a=a, b=b),
    )


def _figures(
    graph_a: StoredGraph, graph_b: StoredGraph, matching: Matching, jaccard: np.ndarray, rbo: np.ndarray, same: bool
) -> dict[str, Any]:
    """The numbers stored on the Comparison node."""
    counts = matching.counts()
    return {
        "p": P,
        "rbo_form": "extrapolated",
        "same_tokenizer": same,
        "tokens_a": len(graph_a),
        "tokens_b": len(graph_b),
        "matched": len(matching),
        **{f"matched_by_{way}": counts[way] for way in WAYS},
        "unmatched_a": len(matching.unmatched_a),
        "unmatched_b": len(matching.unmatched_b),
        "mean_jaccard": float(jaccard.mean()),
        "mean_rbo": float(rbo.mean()),
        "median_jaccard": float(np.median(jaccard)),
        "median_rbo": float(np.median(rbo)),
        "jaccard_deciles": deciles(jaccard),
        "rbo_deciles": deciles(rbo),
        "jaccard_histogram": histogram(jaccard),
        "rbo_histogram": histogram(rbo),
        "compared_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _pair(
    graph_a: StoredGraph, graph_b: StoredGraph, matching: Matching, jaccard: np.ndarray, rbo: np.ndarray, j: int
) -> dict:
    ra, rb = int(matching.a_rows[j]), int(matching.b_rows[j])
    return {
        "id_a": int(graph_a.ids[ra]),
        "text_a": graph_a.text[ra],
        "id_b": int(graph_b.ids[rb]),
        "text_b": graph_b.text[rb],
        "matched_by": WAYS[int(matching.way[j])],
        "jaccard": float(jaccard[j]),
        "rbo": float(rbo[j]),
    }


def _examples(graph: StoredGraph, rows: np.ndarray, top: int) -> dict:
    """How many rows there are, and up to ``top`` of them spread evenly over the ids: ``{count, tokens: [{id, text}]}``."""
    picked = rows[np.unique(np.linspace(0, len(rows) - 1, min(top, len(rows))).astype(np.int64))] if len(rows) else rows
    return {"count": len(rows), "tokens": [{"id": int(graph.ids[r]), "text": graph.text[r]} for r in picked.tolist()]}


def _communities(
    store: Store, graph_a: StoredGraph, graph_b: StoredGraph, matching: Matching, top: int
) -> tuple[list[dict] | None, float | None]:
    """The ``top`` largest communities of A (by matched members) with B's most common community among their members
    and the share of members in it; and that share over all communities. (None, None) unless both are analysed."""
    if graph_a.community is None or graph_b.community is None:
        return None, None
    found = held_together(graph_a.community, graph_b.community, matching)  # (n, 4)
    if len(found) == 0:
        return [], None
    labels_a = {r["id"]: r["label"] for r in store.read("communities_read", model=graph_a.model)}
    labels_b = {r["id"]: r["label"] for r in store.read("communities_read", model=graph_b.model)}
    order = np.lexsort((found[:, 0], -found[:, 1]))[:top]
    rows = [
        {
            "community": int(c),
            "label": labels_a.get(int(c)),
            "members": int(n),
            "b_community": int(cb) if cb >= 0 else None,
            "b_label": labels_b.get(int(cb)) if cb >= 0 else None,
            "held": int(h),
            "share": float(h / n),
        }
        for c, n, cb, h in found[order].tolist()
    ]
    return rows, float(found[:, 3].sum() / found[:, 1].sum())


def _page(
    graph_a: StoredGraph,
    graph_b: StoredGraph,
    matching: Matching,
    jaccard: np.ndarray,
    rbo: np.ndarray,
    token: str,
    k: int,
) -> dict:
    """Both neighbourhoods of the token of A whose text is ``token`` (the lowest id if several); each of A's
    neighbours names its ``partner`` in B (an id, None for none)."""
    row_a = graph_a.text.index(token)
    row_b = int(matching.a_to_b[row_a])
    if row_b < 0:
        raise TokenNotFound(
            f"token {token!r} of {graph_a.model} has no partner in {graph_b.model} (by id, text or variant key); "
            "pick a token both models hold"
        )
    b_to_a = np.full(len(graph_b), -1, dtype=np.int64)
    b_to_a[matching.b_rows] = matching.a_rows
    near_a, near_b = graph_a.neighbours[row_a, :k], graph_b.neighbours[row_b, :k]
    in_b = set(near_b[near_b >= 0].tolist())
    in_a = set(near_a[near_a >= 0].tolist())
    j = int(np.searchsorted(matching.a_rows, row_a))

    def side(graph: StoredGraph, row: int, near: np.ndarray, shared: list[bool]) -> list[dict]:
        return [
            {
                "rank": rank,
                "id": int(graph.ids[n]),
                "text": graph.text[n],
                "score": float(graph.scores[row, rank - 1]),
                "shared": is_shared,
            }
            for rank, (n, is_shared) in enumerate(zip(near.tolist(), shared), start=1)
            if n >= 0
        ]

    shared_a = [n >= 0 and int(matching.a_to_b[n]) in in_b for n in near_a.tolist()]
    left = side(graph_a, row_a, near_a, shared_a)
    for item, n in zip(left, near_a[near_a >= 0].tolist()):
        item["partner"] = int(graph_b.ids[matching.a_to_b[n]]) if matching.a_to_b[n] >= 0 else None
    shared_b = [n >= 0 and int(b_to_a[n]) in in_a for n in near_b.tolist()]
    return {
        "a": graph_a.model,
        "b": graph_b.model,
        "k": k,
        "token_a": {"id": int(graph_a.ids[row_a]), "text": graph_a.text[row_a]},
        "token_b": {"id": int(graph_b.ids[row_b]), "text": graph_b.text[row_b]},
        "matched_by": WAYS[int(matching.way[j])],
        "jaccard": float(jaccard[j]),
        "rbo": float(rbo[j]),
        "left": left,
        "right": side(graph_b, row_b, near_b, shared_b),
    }
