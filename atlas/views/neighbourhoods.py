"""Subgraphs grown from seed tokens: a prompt's tokens, or the words of an atlas, each with its nearest tokens.

Both run ``cypher/seeded_subgraph.cypher``, the statement every named view shares too:
the seeds, the k nearest tokens of each, and every SIMILAR_TO edge among all of them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from atlas.core import arguments
from atlas.core.prompt_tokens import PromptToken
from atlas.core.subgraph import Subgraph, collapse, subgraph_from_rows
from atlas.core.variants import is_word
from atlas.errors import InvalidArgument, TokenNotFound
from atlas.graph.store import Store, require_ids
from atlas.views.lookup import check_stored_k, word_texts

STATEMENT = "seeded_subgraph"


def seeded_subgraph(store: Store, model: str, ids: Sequence[int], k: int, title: str) -> Subgraph:
    """The seeds ``ids``, each with its ``k`` nearest tokens, and every SIMILAR_TO edge among them (k already checked)."""
    rows = store.read(STATEMENT, model=model, ids=sorted({int(i) for i in ids}), k=k)
    return subgraph_from_rows(model, title, rows, STATEMENT)


def prompt_subgraph(
    store: Store,
    model: str,
    tokens: Sequence[PromptToken],
    k: int,
    collapse_variants: bool = False,
    title: str | None = None,
) -> Subgraph:
    """The prompt's tokens (seeds), each with its ``k`` nearest tokens, and every SIMILAR_TO edge among them.

    Edges of any stored rank between shown tokens are included, not only seed ->
    neighbour. ``collapse_variants`` draws each variant group as one node (see
    :func:`atlas.core.subgraph.collapse`). ``title`` defaults to the prompt's token texts.
    """
    props = store.require_model(model)
    k = check_stored_k(props, k)
    if not tokens:
        raise InvalidArgument("the prompt has no tokens; give some text")
    stored = require_ids(store, model, [t.id for t in tokens], "prompt token")
    if title is None:
        title = "prompt " + "|".join(stored[t.id]["text"] for t in tokens)
    subgraph = seeded_subgraph(store, model, [t.id for t in tokens], k, title)
    return collapse(subgraph) if collapse_variants else subgraph


def random_words(store: Store, model: str, n: int, seed: int) -> list[dict]:
    """``n`` distinct random whole words of the model (see :func:`atlas.core.variants.is_word`): ``[{id, text, raw}]``.

    The candidates are every non-special token that is a word, ordered by id; ``n`` of
    them are drawn without replacement with ``numpy.random.default_rng(seed)``, in the
    order drawn. The same seed and the same stored model give the same words.
    """
    props = store.require_model(model)
    n = arguments.integer(n, "the number of words", 1)
    family = props.get("family", "other")
    candidates = [r for r in store.read("atlas_candidates", model=model) if is_word(r["text"], family)]
    if n > len(candidates):
        raise InvalidArgument(
            f"model {model!r} has only {len(candidates)} whole-word tokens; ask for at most that many"
        )
    picks = np.random.default_rng(seed).choice(len(candidates), size=int(n), replace=False)
    return [
        {"id": candidates[i]["id"], "text": candidates[i]["text"], "raw": candidates[i]["raw"]} for i in picks.tolist()
    ]


def atlas_subgraph(
    store: Store,
    model: str,
    words: Sequence[str] | None,
    n: int,
    seed: int,
    k: int,
    collapse_variants: bool = False,
) -> tuple[Subgraph, list[str]]:
    """An atlas: words (seeds), each with its ``k`` nearest tokens, and every SIMILAR_TO edge among them.

    ``words`` None draws ``n`` random words with ``seed`` (:func:`random_words`);
    otherwise each given word is looked up as a single token (see
    :func:`atlas.views.lookup.word_texts`) and ``n``/``seed`` are unused. Returns the
    subgraph and the given words that are not single tokens of the vocabulary, in the
    order given; TokenNotFound when none is.
    """
    props = store.require_model(model)
    k = check_stored_k(props, k)
    family = props.get("family", "other")
    missing: list[str] = []
    if words is None:
        ids = [w["id"] for w in random_words(store, model, n, seed)]
        title = f"atlas of {n} random words (seed {seed})"
    else:
        given = list(dict.fromkeys(words))
        if not given:
            raise InvalidArgument("no words given; give some words or leave them out for random ones")
        texts = sorted({t for w in given for t in word_texts(w, family)})
        by_text: dict[str, int] = {}
        for row in store.read("atlas_tokens_by_text", model=model, texts=texts):
            by_text.setdefault(row["text"], row["id"])  # rows by id: keep the lowest
        ids = []
        for word in given:
            token = next((by_text[t] for t in word_texts(word, family) if t in by_text), None)
            if token is None:
                missing.append(word)
            else:
                ids.append(token)
        if not ids:
            raise TokenNotFound(
                f"none of the words {', '.join(repr(w) for w in given)} is a single token of {model}; "
                "`atlas neighbours WORD` names close tokens"
            )
        title = "atlas of " + ", ".join(w for w in given if w not in missing)
    subgraph = seeded_subgraph(store, model, ids, k, f"{title}, k={k}")
    return (collapse(subgraph) if collapse_variants else subgraph), missing
