"""Saving the hidden states of a text as a small subgraph: (:Context)-[:STATE_OF]->(:Token) and -[:NEAR]->(:Token)."""

from __future__ import annotations

from atlas.graph.queries import browser_line
from atlas.graph.store import Store
from atlas.graph.write_params import batched

BATCH = 500  # states per write transaction (each with its k NEAR links)


def save_context(store: Store, model: str, rows: list[dict]) -> str:
    """Store the states ``rows`` (see ``cypher/context_save.cypher``) of ``model``; returns a Browser line per text.

    Keyed on model, text, position and layer: saving the same states again changes nothing.
    The caller checks first that every token the rows name is stored.
    """
    store.ensure_schema()
    for batch in batched(rows, BATCH):
        store.write("context_save", model=model, rows=list(batch))
    texts = list(dict.fromkeys(r["text"] for r in rows))
    return "\n".join(browser_line("browser_context", model=model, text=t) for t in texts)
