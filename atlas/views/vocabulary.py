"""The whole-vocabulary map of an analysed model, read from its stored graph."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from atlas.core.analysis import Community, centres, token_kinds
from atlas.core.cypher_text import Literal
from atlas.core.vocabulary_map import QUERY_PLACEHOLDER, VocabularyMap
from atlas.errors import AnalysisMissing
from atlas.graph.queries import browser_line
from atlas.graph.store import Store
from atlas.graph.stored_graph import read_graph


def _measures(found: dict[str, np.ndarray], props: dict) -> dict[str, np.ndarray]:
    """The graph measures for the map, when the model's analysis computed them."""
    return {name: found[name] for name in props.get("measures") or () if name in found}


LAYOUTS = ("umap", "pca")  # the analysis's UMAP map of the graph; the load's principal plane of the vectors


def read_map(
    store: Store, model: str, done: Callable[[int], None] | None = None, layout: str = "umap"
) -> VocabularyMap:
    """The whole-vocabulary map of an analysed model: every token with its position, community and neighbours.

    ``layout`` places the tokens: ``umap``, the analysis's map of the exact graph, or ``pca``,
    the principal plane of the vectors the load stored (:mod:`atlas.core.principal`), with
    the communities' labels at their members' median place on it.
    """
    props = store.require_model(model)
    if layout == "pca" and "pca_variance" not in props:
        raise AnalysisMissing(
            f"model {model!r} was stored without its principal plane (loaded before the PCA layout existed); "
            f"load it again with `--replace` to draw it, or draw its UMAP map (`--layout umap`)"
        )
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
    title, places_xy = f"map of {model}", graph.xy
    if layout == "pca" and graph.plane is not None:
        places_xy = graph.plane
        places = centres(graph.community, graph.plane)
        communities = [
            replace(c, x=float(places[c.id][0]), y=float(places[c.id][1])) if c.id < len(places) else c
            for c in communities
        ]
        first, second = props["pca_variance"]
        title = (
            f"PCA map of {model} (the two axes explain {100 * first:.1f} % and {100 * second:.1f} % of the variance)"
        )
    variant = np.full(len(graph), -1, dtype=np.int32)
    numbers: dict[str, int] = {}
    for i, key in enumerate(graph.keys):
        if key is not None:
            variant[i] = numbers.setdefault(key, len(numbers))
    xy = np.nan_to_num(places_xy, nan=0.0)  # a token without edges has no place: drawn at the centre
    return VocabularyMap(
        model=model,
        title=title,
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
