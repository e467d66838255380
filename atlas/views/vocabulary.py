"""The whole-vocabulary map of an analysed model, read from its stored graph."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from atlas.core.analysis import Community, token_kinds
from atlas.core.cypher_text import Literal
from atlas.core.vocabulary_map import QUERY_PLACEHOLDER, VocabularyMap
from atlas.errors import AnalysisMissing
from atlas.graph.queries import browser_line
from atlas.graph.store import Store
from atlas.graph.stored_graph import read_graph


def _measures(found: dict[str, np.ndarray], props: dict) -> dict[str, np.ndarray]:
    """The graph measures for the map, when the model's analysis computed them."""
    return {name: found[name] for name in props.get("measures") or () if name in found}


def read_map(store: Store, model: str, done: Callable[[int], None] | None = None) -> VocabularyMap:
    """The whole-vocabulary map of an analysed model: every token with its position, community and neighbours."""
    props = store.require_model(model)
    if props.get("analysis") != "complete":
        raise AnalysisMissing(
            f"model {model!r} has no analysis yet (communities and map positions); run `atlas analyse --model {model}`"
        )
    graph = read_graph(store, model, done)
    if graph.xy is None or graph.community is None or graph.cited is None:
        raise AnalysisMissing(f"model {model!r} has no map positions stored; run `atlas analyse --model {model}`")
    communities = [
        Community(r["id"], r["size"], r["label"], r["x"], r["y"]) for r in store.read("communities_read", model=model)
    ]
    variant = np.full(len(graph), -1, dtype=np.int32)
    numbers: dict[str, int] = {}
    for i, key in enumerate(graph.keys):
        if key is not None:
            variant[i] = numbers.setdefault(key, len(numbers))
    xy = np.nan_to_num(graph.xy, nan=0.0)  # a token without edges has no place: drawn at the centre
    return VocabularyMap(
        model=model,
        title=f"map of {model}",
        ids=graph.ids,
        text=graph.text,
        x=xy[:, 0].astype(np.float32),
        y=xy[:, 1].astype(np.float32),
        community=graph.community,
        cited=graph.cited,
        kind=token_kinds(graph.text, graph.special, props.get("family", "other")),
        variant=variant,
        neighbours=graph.neighbours,
        scores=graph.scores,
        communities=communities,
        browser_query=browser_line("browser_token", model=model, id=Literal(QUERY_PLACEHOLDER)),
        **_measures(graph.measures, props),
        untrained=_untrained(store, model, graph.ids, props),
    )


def _untrained(store: Store, model: str, ids: np.ndarray, props: dict) -> np.ndarray | None:
    """Which tokens `atlas untrained` flagged as candidates; None when it has not run on the model."""
    if props.get("untrained_at") is None:
        return None
    flagged = store.read_row("untrained_flags", model=model)["ids"]
    return np.isin(ids, np.asarray(flagged, dtype=np.int64))
