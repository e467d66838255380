"""Finding stored tokens: by exact text or id, by the word a user typed, by variant group; with suggestions.

Every read goes through ``Store.read`` with a statement from ``cypher/`` and values as
parameters.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from atlas.core.variants import SPACE_FAMILIES, variant_key
from atlas.errors import InvalidArgument, TokenNotFound
from atlas.graph.store import Store

SUGGESTIONS = 8  # close tokens named when a typed token is not in the vocabulary


def typed_key(text: str, family: str) -> str | None:
    """The variant key of text a user typed (readable text, not a tokenizer piece).

    The same rules as :func:`atlas.core.variants.variant_key`, without mapping a piece's
    byte alphabet: a typed "é" is the letter, not the byte-level BPE character for 0xE9.

    >>> typed_key(" List", "byte_bpe"), typed_key("##list", "wordpiece"), typed_key("Straße", "sentencepiece")
    ('list', 'list', 'strasse')
    """
    return variant_key(text, "wordpiece" if family == "wordpiece" else "other")


def word_texts(word: str, family: str) -> list[str]:
    """The token texts a typed word may be, most wanted first.

    For byte-level BPE and SentencePiece the word-start token (`` list``) comes before
    the bare piece (``list``).

    >>> word_texts("list", "byte_bpe"), word_texts("list", "wordpiece"), word_texts(" list", "byte_bpe")
    ([' list', 'list'], ['list'], [' list'])
    """
    if family in SPACE_FAMILIES and not word.startswith(" "):
        return [" " + word, word]
    return [word]


def find_token(store: Store, model: str, text: str) -> dict:
    """The token whose text is exactly ``text`` (the lowest id if several): ``{id, text, raw, special}``.

    Raises TokenNotFound naming close tokens: first those of the same variant group,
    then those whose trimmed, lower-cased text starts with the typed text's.
    """
    props = store.require_model(model)
    rows = store.read("tokens_by_text", model=model, text=text)
    if rows:
        return _token(rows[0])
    close = suggestions(store, model, props.get("family", "other"), text)
    if close:
        listed = ", ".join(repr(t) for t in close)
        raise TokenNotFound(
            f"token {text!r} is not in the vocabulary of {model}; close tokens: {listed} (use one of them)"
        )
    raise TokenNotFound(f"token {text!r} is not in the vocabulary of {model} and no token is close; check the spelling")


def find_token_by_id(store: Store, model: str, token_id: int) -> dict:
    """The token with id ``token_id``: ``{id, text, raw, special}``; TokenNotFound if the model has none."""
    props = store.require_model(model)
    rows = store.read("tokens_by_id", model=model, ids=[int(token_id)])
    if not rows:
        raise TokenNotFound(
            f"token id {token_id} is not in model {model} (it has {props.get('vocab_size', '?')} tokens); "
            "look the token up by its text instead"
        )
    return _token(rows[0])


def suggestions(store: Store, model: str, family: str, text: str, down_to: int | None = None) -> list[str]:
    """Up to SUGGESTIONS token texts close to ``text``: its variant group first, then tokens starting like it.

    With ``down_to``, ever shorter prefixes of the trimmed text, down to ``down_to``
    characters, are tried too; the longest that has any close token wins. One statement
    however long the text.
    """
    stem = text.strip()
    parts = [text] + ([stem[:n] for n in range(len(stem) - 1, down_to - 1, -1)] if down_to else [])
    levels = [
        {"level": i, "key": typed_key(part, family), "prefix": part.strip().lower()} for i, part in enumerate(parts)
    ]
    rows = store.read("token_suggestions", model=model, levels=levels, limit=SUGGESTIONS)
    return list(dict.fromkeys(r["text"] for r in rows))[:SUGGESTIONS]


def _token(row: dict) -> dict:
    return {"id": row["id"], "text": row["text"], "raw": row["raw"], "special": bool(row["special"])}


def check_stored_k(props: dict, k: Any) -> int:
    """``k`` as an int in 1..the model's k, else InvalidArgument naming the model's k."""
    model_k = int(props["k"])
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= model_k:
        raise InvalidArgument(
            f"k must be between 1 and {model_k} (model {props['name']!r} was loaded with k={model_k}), got {k!r}"
        )
    return int(k)


def variant_group(store: Store, model: str, word: str) -> dict:
    """The variant group ``word`` belongs to: ``{key, tokens: [{id, text, raw}]}``, tokens by id.

    The key is computed from ``word`` with the model's tokenizer family, so "list",
    "List" and " list" all name the group with key "list".
    """
    props = store.require_model(model)
    key = typed_key(word, props.get("family", "other"))
    if key is None:
        raise InvalidArgument(f"{word!r} has no variant key (it is only whitespace); give a word")
    rows = store.read("variant_tokens", model=model, key=key)
    if not rows:
        close = [r["text"] for r in store.read("tokens_like", model=model, prefix=key, limit=SUGGESTIONS)]
        hint = f"; close tokens: {', '.join(repr(t) for t in close)}" if close else "; check the spelling"
        raise TokenNotFound(f"no token of {model} spells {word!r} (variant key {key!r}){hint}")
    return {"key": key, "tokens": [{"id": r["id"], "text": r["text"], "raw": r["raw"]} for r in rows]}
