"""A prompt as the model sees it: its token ids and pieces, and the embedding rows of those tokens.

``tokenize`` and ``token_table`` are pure given a tokenizer and the rows; ``read_rows``
reads only the rows a prompt needs from the model's safetensors file, so showing the
vectors of a sentence never loads a whole (151,936 x 1,536) matrix.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from atlas.errors import InvalidArgument, SourceNotFound
from atlas.variants import detect_family, readable_text


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


def tokenize(tokenizer: Any, text: str, include_special: bool = False) -> list[PromptToken]:
    """The tokens of ``text``, in order, as ``tokenizer`` splits it.

    ``tokenizer`` is a transformers fast tokenizer (what ``loaders.load_tokenizer``
    returns) or a ``tokenizers.Tokenizer``. ``include_special`` adds the model's
    special tokens (``[CLS]`` ... ``[SEP]`` for BERT-like models) as the model would.

    >>> from loaders import default_source, load_tokenizer
    >>> [(t.position, t.id, t.piece) for t in tokenize(load_tokenizer(default_source()), "HTML coders")]
    [(0, 16129, 'html'), (1, 3642, 'code'), (2, 2869, '##rs')]
    """
    if hasattr(tokenizer, "convert_ids_to_tokens"):  # transformers
        ids = list(tokenizer(text, add_special_tokens=include_special)["input_ids"])
        pieces = tokenizer.convert_ids_to_tokens(ids)
    else:  # tokenizers.Tokenizer
        encoding = tokenizer.encode(text, add_special_tokens=include_special)
        ids, pieces = list(encoding.ids), list(encoding.tokens)
    family = detect_family(tokenizer)
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
    ``read_rows(source, [t.id for t in tokens])`` returns).

    >>> rows = np.arange(12, dtype=np.float32).reshape(2, 6)
    >>> token_table([PromptToken(0, 7, "a"), PromptToken(1, 9, "Ġb", " b")], rows, edge=2)[1]
    {'position': 1, 'id': 9, 'token': ' b', 'first': [6.0, 7.0], 'last': [10.0, 11.0]}
    """
    if edge < 1:
        raise InvalidArgument(f"the number of vector components to show must be at least 1, got {edge}")
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


def read_rows(source: str, ids: Sequence[int], offline: bool = False) -> np.ndarray:
    """Rows ``ids`` (in that order, repeats allowed) of the model's input-embedding matrix, (len(ids), d) float32.

    Only those rows are read, with safetensors' ``get_slice`` (one contiguous slice per
    run of consecutive ids). A checkpoint without safetensors is read whole as a
    fallback.
    """
    from loaders.huggingface import (
        safetensors_keys,
        embedding_tensor_name,
        read_embedding_matrix,
        resolve,
    )

    wanted = [int(i) for i in ids]
    if any(i < 0 for i in wanted):
        raise InvalidArgument(f"token ids cannot be negative, got {min(wanted)}")
    folder = resolve(source, offline, weights=True)
    name = embedding_tensor_name(folder)
    if name is None:
        matrix = read_embedding_matrix(folder)  # (rows, d)
        _check_ids(wanted, matrix.shape[0], source)
        return np.ascontiguousarray(matrix[wanted], dtype=np.float32)

    from safetensors import safe_open

    unique = sorted(set(wanted))
    found: dict[int, np.ndarray] = {}
    try:
        with safe_open(str(safetensors_keys(folder)[name]), "pt") as f:
            tensor = f.get_slice(name)
            shape = tensor.get_shape()
            _check_ids(unique, shape[0], source)
            for start, stop in _runs(unique):
                block = tensor[start:stop].float().numpy()  # (stop - start, d)
                found.update((start + i, block[i]) for i in range(stop - start))
    except OSError as exc:
        raise SourceNotFound(f"cannot read the embeddings of {source!r}: {exc}".splitlines()[0]) from None
    if not wanted:
        return np.zeros((0, shape[1]), dtype=np.float32)
    return np.stack([found[i] for i in wanted]).astype(np.float32, copy=False)


def _check_ids(ids: Sequence[int], rows: int, source: str) -> None:
    beyond = [i for i in ids if i >= rows]
    if beyond:
        raise InvalidArgument(
            f"token ids {beyond} are past the end of the embedding matrix of {source!r} ({rows} rows); "
            "the tokenizer has tokens the model has no vectors for"
        )


def _runs(sorted_ids: Sequence[int]) -> list[tuple[int, int]]:
    """Half-open ranges of consecutive ids.

    >>> _runs([1, 2, 3, 7, 9, 10])
    [(1, 4), (7, 8), (9, 11)]
    """
    runs: list[tuple[int, int]] = []
    for i in sorted_ids:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs
