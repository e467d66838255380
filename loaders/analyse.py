"""The analysis of a model's graph: analyse it and store the result, from the load's own arrays or read back from Neo4j."""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import nullcontext

import numpy as np

from atlas.core import analysis
from atlas.core.progress import StageProgress, ignore
from atlas.errors import ModelBusy
from atlas.graph.lease import Lease
from atlas.graph.store import Store
from atlas.graph.stored_graph import read_graph
from atlas.graph.writes import write_analysis, write_mutual
from atlas.results import AnalysisReport


def analyse_stored(
    store: Store,
    name: str,
    resolution: float = analysis.RESOLUTION,
    seed: int = 0,
    epochs: int = analysis.EPOCHS,
    on_progress: StageProgress | None = None,
    batch_size: int = 20_000,
    lease: Lease | None = None,
) -> AnalysisReport:
    """Recompute the analysis of the complete model ``name`` from its stored graph and store it, replacing any earlier one.

    Holds the model's lease while it runs (or uses ``lease``, one the caller holds).
    """
    began = time.perf_counter()
    on_progress = on_progress or ignore
    props = store.require_model(name)
    with nullcontext(lease) if lease is not None else Lease(store, name) as held:
        total = int(props.get("vocab_size", 0))
        on_progress("read", 0, total)
        graph = read_graph(store, name, done=lambda n: on_progress("read", n, total))
        result = analyse_and_store(
            store,
            name,
            graph.ids,
            graph.neighbours,
            graph.scores,
            graph.text,
            graph.special,
            graph.keys,
            props.get("family", "other"),
            resolution,
            seed,
            epochs,
            batch_size,
            on_progress,
            held,
            mark_mutual=not props.get("mutual_edges"),
        )
    return AnalysisReport(
        name, len(graph), len(result.communities), result.modularity, result.cited_skewness, time.perf_counter() - began
    )


def analyse_and_store(
    store: Store,
    name: str,
    ids: np.ndarray,
    neighbours: np.ndarray,
    scores: np.ndarray,
    texts: Sequence[str],
    special: Sequence[bool],
    keys: Sequence[str | None],
    family: str,
    resolution: float,
    seed: int,
    epochs: int,
    batch_size: int,
    on_progress: StageProgress,
    lease: Lease,
    *,
    mark_mutual: bool,
) -> analysis.Analysis:
    """Analyse the graph of model ``name`` (row i is token ``ids[i]``, see :func:`atlas.core.analysis.analyse`) and store the result.

    With ``mark_mutual`` its SIMILAR_TO edges are marked mutual or not first (edges
    written without the flag). The analysis is written only while ``lease`` is still
    held; ModelBusy when another load took it over meanwhile.
    """
    result = analysis.analyse(
        neighbours,
        scores,
        texts,
        special,
        keys,
        family,
        resolution=resolution,
        seed=seed,
        epochs=epochs,
        stage=lambda stage: on_progress(stage, 0, 1),
    )
    if mark_mutual:
        on_progress("mutual", 0, len(ids))
        write_mutual(store, name, ids, neighbours, result.mutual, batch_size)
    if not lease.renew():
        raise ModelBusy(f"another load took over model {name!r} during its analysis; its analysis was not written")
    on_progress("analysis", 0, len(ids))
    write_analysis(store, name, ids, result, batch_size, lambda n: on_progress("analysis", n, len(ids)))
    return result
