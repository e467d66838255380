"""A token's stored nearest tokens, best first, optionally one per variant group."""

from __future__ import annotations

from collections.abc import Sequence

from atlas.graph.store import Store, require_ids
from atlas.views.lookup import check_stored_k


def neighbours(store: Store, model: str, token_id: int, k: int, collapse_variants: bool = False) -> list[dict]:
    """The ``k`` nearest tokens of ``token_id``, best first: ``[{id, text, score, rank, community}]``.

    ``community`` is the label of the neighbour's community (None before an analysis).

    ``rank`` is the stored rank (1 = nearest). With ``collapse_variants``, neighbours
    in the token's own variant group are dropped and only the best-ranked token of
    each other group is kept, from all the stored neighbours; the first ``k`` of those
    are returned (fewer when the stored neighbours hold fewer groups), with their
    stored ranks.
    """
    props = store.require_model(model)
    k = check_stored_k(props, k)
    require_ids(store, model, [token_id])
    if not collapse_variants:
        rows = store.read("neighbours", model=model, id=int(token_id), k=k)
        return [_neighbour(r) for r in rows]
    rows = store.read("variant_neighbours", model=model, id=int(token_id))
    return [_neighbour(r) for r in collapse_neighbours(rows)[:k]]


def collapse_neighbours(rows: Sequence[dict]) -> list[dict]:
    """Neighbour rows (best first, each with ``key`` and ``own_key``) without the query token's group, one per group.

    Rows without a key stand for themselves.

    >>> rows = [{"id": 2, "key": "list", "own_key": "list"}, {"id": 5, "key": "lists", "own_key": "list"},
    ...         {"id": 7, "key": "lists", "own_key": "list"}, {"id": 9, "key": None, "own_key": "list"}]
    >>> [r["id"] for r in collapse_neighbours(rows)]
    [5, 9]
    """
    seen: set[str] = set()
    kept = []
    for row in rows:
        key = row["key"]
        if key is not None and (key == row["own_key"] or key in seen):
            continue
        if key is not None:
            seen.add(key)
        kept.append(row)
    return kept


def _neighbour(row: dict) -> dict:
    return {
        "id": row["id"],
        "text": row["text"],
        "score": row["score"],
        "rank": row["rank"],
        "community": row["community"],
    }
