"""Writing a model's graph: its tokens, variant groups and SIMILAR_TO edges, and saved prompts.

Rows come from the pure builders in :mod:`atlas.graph.write_params`; every batch is one
transaction of an idempotent statement (see :class:`atlas.graph.store.Store`). The load
pipeline (``loaders.pipeline``) decides what to write when.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone

import numpy as np

from atlas.core.analysis import Analysis
from atlas.core.progress import ignore
from atlas.core.prompt_tokens import PromptToken
from atlas.errors import InvalidArgument
from atlas.graph.queries import browser_line
from atlas.graph.store import Store, require_ids
from atlas.graph.write_params import analysis_token_rows, batched, variant_rows

Done = Callable[[int], None]  # called with how many items a batch just wrote


def write_tokens(store: Store, model: str, rows: list[dict], batch_size: int, done: Done) -> dict[int, int]:
    """Write the token rows in batches (merged on model and id); returns each token id's internal node id (for the edge writes)."""
    nodes: dict[int, int] = {}
    for written in store.write_batches("tokens_write", batched(rows, batch_size), model=model):
        nodes.update((r["id"], r["node"]) for r in written)
        done(len(written))
    return nodes


def write_variants(store: Store, model: str, rows: list[dict], batch_size: int, done: Done) -> None:
    """Link tokens to their variant groups, in batches."""
    batches = list(batched(rows, batch_size))
    for batch, _ in zip(batches, store.write_batches("variants_write", batches, model=model)):
        done(len(batch))


def write_edge_batch(store: Store, statement: str, params: dict) -> int:
    """Write one batch of edges (see :func:`atlas.graph.write_params.edge_params`) in one transaction; returns the edge count."""
    if params["src"]:
        store.write(statement, **params)
    return sum(len(t) for t in params["tgt"])


def rebuild_variants(store: Store, name: str, batch_size: int = 20_000) -> int:
    """Recompute a stored model's variant groups from its tokens (for models loaded before grouping existed)."""
    props = store.require_model(name)
    store.delete_batches("variants_delete_batch", model=name, limit=batch_size)
    tokens = store.read("tokens_all", model=name)
    ids = np.array([t["id"] for t in tokens], dtype=np.int64)
    rows = variant_rows(ids, [t["raw"] for t in tokens], [bool(t["special"]) for t in tokens], props["family"])
    store.ensure_schema()
    write_variants(store, name, rows, batch_size, ignore)
    return len(rows)


def save_prompt(store: Store, model: str, text: str, tokens: Sequence[PromptToken]) -> str:
    """Store ``(:Prompt {model, text})-[:HAS_TOKEN {position}]->(:Token)``; returns a query to see it in Neo4j Browser.

    Saving the same prompt again changes nothing; saving it with other tokens (say,
    with special tokens) replaces its links. The returned query is one line with the
    model and text as escaped string literals, so it pastes into Browser as is.
    """
    store.require_model(model)
    if not tokens:
        raise InvalidArgument("the prompt has no tokens; give some text")
    require_ids(store, model, [t.id for t in tokens], "prompt token")
    rows = [{"position": int(t.position), "id": int(t.id)} for t in tokens]
    store.write("prompt_save", model=model, text=text, rows=rows)
    return browser_line("browser_prompt", model=model, text=text)


def write_analysis(
    store: Store, model: str, ids: np.ndarray, result: Analysis, batch_size: int = 20_000, done: Done | None = None
) -> None:
    """Store an analysis of ``model`` (rows of ``result`` are tokens ``ids``), replacing any earlier one.

    The Model node says ``analysis: 'running'`` until every token property, Community
    node and LINKED relationship is written, then ``'complete'`` with the settings and
    figures. Every write is idempotent, so an interrupted analysis is finished by
    running it again.
    """
    done = done or ignore
    store.ensure_schema()
    store.write("model_analysis", name=model, status="running", props={})
    batches = list(batched(analysis_token_rows(ids, result), batch_size))
    for batch, _ in zip(batches, store.write_batches("analysis_tokens_write", batches, model=model)):
        done(len(batch))
    store.delete_batches("community_links_delete_batch", model=model, limit=batch_size)
    count = len(result.communities)
    store.delete_batches("communities_delete_batch", model=model, first=count, limit=batch_size)
    communities = [{"id": c.id, "size": c.size, "label": c.label, "x": c.x, "y": c.y} for c in result.communities]
    for _ in store.write_batches("communities_write", batched(communities, batch_size), model=model):
        pass
    links = [{"a": int(a), "b": int(b), "edges": int(e), "weight": float(w)} for a, b, e, w in result.links.tolist()]
    for _ in store.write_batches("community_links_write", batched(links, batch_size), model=model):
        pass
    figures = {
        **{f"analysis_{key}": value for key, value in result.settings.items()},
        "communities": count,
        "modularity": result.modularity,
        "cited_skewness": result.cited_skewness,
        "mutual_share": result.mutual_share,
        "measures": [] if result.measures is None else ["out_degree", "pagerank", "core", "clustering"],
        "analysed_at": datetime.now(timezone.utc).isoformat(),
    }
    store.write("model_analysis", name=model, status="complete", props=figures)


def write_mutual(
    store: Store, model: str, ids: np.ndarray, neighbours: np.ndarray, both: np.ndarray, batch_size: int = 20_000
) -> None:
    """Mark every SIMILAR_TO edge of ``model`` mutual or not (for edges written without the flag)."""
    rows = [{"id": int(ids[i]), "mutual": ids[neighbours[i][both[i]]].tolist()} for i in range(len(ids))]
    for _ in store.write_batches(
        "edges_mutual_write", batched(rows, max(1, batch_size // max(1, neighbours.shape[1]))), model=model
    ):
        pass
    store.write("model_mutual", name=model)
