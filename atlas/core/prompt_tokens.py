"""A prompt as the model sees it: its token ids and pieces, and the table of their embedding rows.

Both functions are pure given a tokenizer and the rows; :func:`atlas.files.model_files.read_rows`
reads only the rows a prompt needs, so showing the vectors of a sentence never loads a
whole (151,936 x 1,536) matrix.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from atlas.core.arguments import integer
from atlas.core.variants import detect_family, readable_text
from atlas.errors import InvalidArgument


@dataclass(frozen=True)
class PromptToken:
    """The token at ``position`` (from 0) of a prompt.

    ``piece`` is the tokenizer's own string (``"Ġlist"``, ``"##ers"``); ``text`` is its
    readable form for the tokenizer's family (``" list"``, ``"##ers"``), empty when the
    token was built without a tokenizer at hand.
    """

    position: int
    id: int
    piece: str
    text: str = ""


def tokenize(tokenizer: Any, text: str, include_special: bool = False, family: str | None = None) -> list[PromptToken]:
    """The tokens of ``text``, in order, as ``tokenizer`` splits it.

    ``tokenizer`` is a ``tokenizers.Tokenizer`` (what :func:`atlas.files.model_files.read_tokenizer`
    returns) or a transformers fast tokenizer. ``include_special`` adds the model's
    special tokens (``[CLS]`` ... ``[SEP]`` for BERT-like models) as the model would.
    ``family`` is the tokenizer's family when it is known (a stored model records it);
    otherwise it is detected from the tokenizer.

    >>> from atlas.files.model_files import default_source, read_tokenizer
    >>> [(t.position, t.id, t.piece) for t in tokenize(read_tokenizer(default_source()), "HTML coders")]
    [(0, 16129, 'html'), (1, 3642, 'code'), (2, 2869, '##rs')]
    """
    if hasattr(tokenizer, "convert_ids_to_tokens"):  # transformers
        ids = list(tokenizer(text, add_special_tokens=include_special)["input_ids"])
        pieces = tokenizer.convert_ids_to_tokens(ids)
    else:  # tokenizers.Tokenizer
        encoding = tokenizer.encode(text, add_special_tokens=include_special)
        ids, pieces = list(encoding.ids), list(encoding.tokens)
    family = family or detect_family(tokenizer)
    return [
        PromptToken(position, int(token_id), piece, readable_text(piece, family))
        for position, (token_id, piece) in enumerate(zip(ids, pieces))
    ]


def token_table(
    tokens: Sequence[PromptToken],
    matrix_rows: Mapping[int, np.ndarray] | np.ndarray,
    edge: int = 3,
) -> list[dict]:
    """One row per prompt token: ``position, id, token, first, last``.

    ``token`` is the readable text (the piece when no text is known); ``first`` and
    ``last`` are the first and last ``edge`` components of the token's input
    embedding, as Python floats. ``matrix_rows`` is either ``{token id: row}`` or an
    array with one row per token in ``tokens`` order (what
    ``atlas.files.model_files.read_rows(source, [t.id for t in tokens])`` returns).

    >>> rows = np.arange(12, dtype=np.float32).reshape(2, 6)
    >>> token_table([PromptToken(0, 7, "a"), PromptToken(1, 9, "Ġb", " b")], rows, edge=2)[1]
    {'position': 1, 'id': 9, 'token': ' b', 'first': [6.0, 7.0], 'last': [10.0, 11.0]}
    """
    edge = integer(edge, "components", 1)
    if isinstance(matrix_rows, np.ndarray):
        if matrix_rows.ndim != 2 or matrix_rows.shape[0] != len(tokens):
            raise InvalidArgument(
                f"expected one embedding row per prompt token ({len(tokens)}), got an array of shape "
                f"{matrix_rows.shape}; pass read_rows(source, [t.id for t in tokens])"
            )
        rows = list(matrix_rows)
    else:
        missing = [t.id for t in tokens if t.id not in matrix_rows]
        if missing:
            raise InvalidArgument(f"no embedding row for token ids {missing}; read them with read_rows first")
        rows = [np.asarray(matrix_rows[t.id]) for t in tokens]
    table = []
    for token, row in zip(tokens, rows):  # row: (d,)
        head = min(edge, len(row))
        table.append(
            {
                "position": token.position,
                "id": token.id,
                "token": token.text or token.piece,
                "first": [float(x) for x in row[:head]],
                "last": [float(x) for x in row[len(row) - head :]],
            }
        )
    return table
