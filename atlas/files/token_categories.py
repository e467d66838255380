"""Every token's round trip through its tokenizer: decode it alone, encode the text again (see :mod:`atlas.core.untrained`).

Works on a ``tokenizers.Tokenizer`` (what :func:`atlas.files.model_files.read_tokenizer` returns),
in batches, so a 151,665-token vocabulary takes seconds. A WordPiece continuation piece
(``##ing``) cannot start a text, so it is decoded and encoded after an anchor token
(``a##ing`` -> ``"aing"``): it is reachable when some anchor of :data:`ANCHORS` gives back
exactly (anchor, piece).
"""

from __future__ import annotations

from collections.abc import Sequence

from atlas.core.untrained import category

ANCHORS = ("a", "x", "q", "z", "7", "j", "v")  # single-token words tried before a continuation piece


def round_trip(tokenizer, ids: Sequence[int]) -> tuple[list[str], list[list[int]]]:
    """Each token's text decoded alone (special tokens kept) and the ids that text encodes to (no special tokens added)."""
    single = [[int(i)] for i in ids]
    texts = tokenizer.decode_batch(single, skip_special_tokens=False)
    encoded = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
    prefix = getattr(tokenizer.model, "continuing_subword_prefix", None)
    if type(tokenizer.model).__name__ == "WordPiece" and prefix:
        _continuations(tokenizer, ids, prefix, encoded)
    return texts, encoded


def _continuations(tokenizer, ids: Sequence[int], prefix: str, encoded: list[list[int]]) -> None:
    """Replace, in place, the round trip of each reachable continuation piece by ``[id]``."""
    pending = [row for row, i in enumerate(ids) if (tokenizer.id_to_token(int(i)) or "").startswith(prefix)]
    for anchor in ANCHORS:
        if not pending:
            return
        anchor_ids = tokenizer.encode(anchor, add_special_tokens=False).ids
        if len(anchor_ids) != 1:
            continue
        pairs = [[anchor_ids[0], int(ids[row])] for row in pending]
        texts = tokenizer.decode_batch(pairs, skip_special_tokens=False)
        back = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
        left = []
        for row, pair, again in zip(pending, pairs, back):
            if again == pair:
                encoded[row] = [int(ids[row])]
            else:
                left.append(row)
        pending = left


def categories(tokenizer, ids: Sequence[int], special: Sequence[bool]) -> list[str]:
    """The round-trip category of each token ``ids[i]`` (``special[i]``: a special token)."""
    texts, encoded = round_trip(tokenizer, ids)
    return [category(int(i), t, e, bool(s)) for i, t, e, s in zip(ids, texts, encoded, special)]
