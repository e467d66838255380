"""Writing a model's graph: its tokens, variant groups and SIMILAR_TO edges, and saved prompts.

Rows come from the pure builders in :mod:`atlas.rows`; every batch is one
transaction of an idempotent statement (see :class:`atlas.store.Store`). The load
pipeline (``loaders.pipeline``) decides what to write when.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from atlas.errors import InvalidArgument
from atlas.lookup import require_ids
from atlas.prompt import PromptToken
from atlas.queries import browser_line
from atlas.rows import batched, variant_rows
from atlas.store import Store

Done = Callable[[int], None]  # called with how many items a batch just wrote


def write_tokens(store: Store, model: str, rows: list[dict], batch_size: int, done: Done) -> dict[int, str]:
    """Write the token rows in batches (merged on model and id); returns each token id's element id (for the edge writes)."""
    element_ids: dict[int, str] = {}
    for written in store.write_batches("tokens_write", batched(rows, batch_size), model=model):
        element_ids.update((r["id"], r["element_id"]) for r in written)
        done(len(written))
    return element_ids


def write_variants(store: Store, model: str, rows: list[dict], batch_size: int, done: Done) -> None:
    """Link tokens to their variant groups, in batches."""
    batches = list(batched(rows, batch_size))
    for batch, _ in zip(batches, store.write_batches("variants_write", batches, model=model)):
        done(len(batch))


def write_edge_batch(store: Store, statement: str, rows: list[dict]) -> int:
    """Write one batch of edge rows (see :func:`atlas.rows.edge_rows`) in one transaction; returns the edge count."""
    for _ in store.write_batches(statement, [rows]):
        pass
    return sum(len(r["targets"]) for r in rows)


def rebuild_variants(store: Store, name: str, batch_size: int = 20_000) -> int:
    """Recompute a stored model's variant groups from its tokens (for models loaded before grouping existed)."""
    props = store.require_model(name)
    while store.write("variants_delete_batch", model=name, limit=batch_size)[0]["deleted"]:
        pass
    tokens = store.read("tokens_all", model=name)
    ids = np.array([t["id"] for t in tokens], dtype=np.int64)
    rows = variant_rows(ids, [t["raw"] for t in tokens], [bool(t["special"]) for t in tokens], props["family"])
    store.ensure_schema()
    write_variants(store, name, rows, batch_size, lambda n: None)
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
