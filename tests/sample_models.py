"""Small real models for end-to-end tests: a slice of the bundled MiniLM vocabulary, and saved prompts.

A slice of a few thousand tokens loads in seconds, keeps the real token texts,
variant groups and embeddings, and always holds the tokens the tests ask for.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

import atlas.loaders as loaders
from atlas.core.prompt_tokens import tokenize
from atlas.files.model_files import default_source, load_tokenizer
from atlas.graph.store import Store
from atlas.graph.writes import save_prompt as save
from atlas.loaders.pipeline import AnalysisSettings, load
from atlas.loaders.source import EmbeddingTable

ARTICLE_PROMPT = "AI agents will be the most hot topic of artificial intelligence in 2025."
WORDS = ("cat", "cats", "dog", "kitten", "list", "##list", "lists", "listing")
ARITHMETIC = ("king", "man", "woman", "queen")  # king - man + woman is queen


def minilm_slice(name: str, size: int = 3000, seed: int = 0, texts: tuple[str, ...] = WORDS) -> EmbeddingTable:
    """``size`` tokens of the bundled MiniLM, stored as model ``name``.

    Always holds the tokens of ``ARTICLE_PROMPT`` and of ``texts``; the rest is a
    seeded random sample of the other non-special tokens.
    """
    full = loaders.load_embedding_table(default_source(), name=name)
    row_of_id = {int(i): row for row, i in enumerate(full.ids)}
    row_of_text = {text: row for row, text in enumerate(full.text)}
    wanted = {row_of_id[i] for i in prompt_token_ids(ARTICLE_PROMPT)} | {row_of_text[t] for t in texts}
    others = np.array([r for r in range(len(full)) if r not in wanted and not full.special[r]])
    rng = np.random.default_rng(seed)
    rows = np.sort(np.concatenate([np.array(sorted(wanted)), rng.choice(others, size - len(wanted), replace=False)]))
    return EmbeddingTable(
        name=name,
        source=full.source,
        matrix=np.ascontiguousarray(full.matrix[rows]),  # (size, d)
        ids=full.ids[rows],
        raw=[full.raw[r] for r in rows],
        text=[full.text[r] for r in rows],
        special=[full.special[r] for r in rows],
        family=full.family,
        matrix_rows=full.matrix_rows,
    )


def prompt_token_ids(text: str) -> list[int]:
    """The MiniLM token ids of ``text``, without [CLS] and [SEP]."""
    return [t.id for t in tokenize(load_tokenizer(default_source()), text)]


def save_prompt(store: Store, model: str, text: str) -> list[int]:
    """Save ``text`` the way ``atlas prompt --save`` does; returns its token ids in order."""
    tokens = tokenize(load_tokenizer(default_source()), text)
    save(store, model, text, tokens)
    return [t.id for t in tokens]


ANALYSIS = AnalysisSettings(epochs=50)  # a short layout: a slice's map need not be a good one


@contextmanager
def saved_minilm_slice(
    neo4j_settings,
    prefix: str,
    k: int = 10,
    texts: tuple[str, ...] = WORDS,
    vectors: bool = False,
    analyse: bool = False,
) -> Iterator[str]:
    """A ``minilm_slice`` holding ``texts`` loaded with ``k`` neighbours (and, with ``vectors``, its vectors and
    vector index) under a fresh name starting ``prefix``, with ``ARTICLE_PROMPT`` saved; yields the name and
    deletes the model afterwards.

    ``analyse`` runs the load's analysis too (communities, hubs, mutual pairs, a map of 50 epochs)."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    store = Store(neo4j_settings)
    try:
        load(store, minilm_slice(name, texts=texts), k=k, vectors=vectors, analyse=ANALYSIS if analyse else None)
        save_prompt(store, name, ARTICLE_PROMPT)
        yield name
    finally:
        store.delete_model(name)
        store.close()
