"""A word through the layers: where a token's hidden state lies among the static token embeddings.

Everything here is pure numpy on arrays a caller has read (see :mod:`atlas.files.text_states`):

- :func:`nearest` ranks the whole vocabulary by exact cosine to each hidden state, against
  the input-embedding rows (the static atlas's vectors), ties to the lower id;
- :func:`own_cosine` is a state's cosine to its own token's static row;
- :func:`word_positions` finds a word's tokens in a text by character offsets: a word of
  several pieces (``"robbery"`` -> ``rob, ##bery``) gives all of them, each reported on its
  own, and :func:`word_state` (their mean) stands for the word when texts are compared;
- :func:`separating` names the vocabulary tokens that tell two states of a word apart:
  those whose cosine to state A minus their cosine to state B is largest.

Memory: the unit vocabulary (V x d float32, 0.9 GB for Qwen2's 151,665 x 1,536) and one block
of at most :data:`QUERY_BLOCK` queries' scores (QUERY_BLOCK x V float32) at a time.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from atlas.core.arithmetic import ranked
from atlas.core.topk import normalise
from atlas.errors import InvalidArgument

QUERY_BLOCK = 256  # hidden states scored against the vocabulary at once


@dataclass(frozen=True)
class Vocabulary:
    """The static rows a state is compared with: token ``ids`` (V,) int64 ascending, their ``text``,
    ``unit`` (V, d) float32 L2-normalised rows and ``valid`` (V,) bool (False for a zero row)."""

    ids: np.ndarray
    text: list[str]
    unit: np.ndarray
    valid: np.ndarray

    @classmethod
    def from_matrix(cls, matrix: np.ndarray, ids: np.ndarray, text: Sequence[str]) -> Vocabulary:
        """The vocabulary of rows ``ids`` (ascending) of ``matrix`` (rows, d).

        >>> v = Vocabulary.from_matrix(np.array([[3.0, 4.0], [0.0, 0.0], [1.0, 0.0]]), np.array([0, 2]), ["a", "b"])
        >>> v.unit.astype(float).round(2).tolist(), v.position(2)
        ([[0.6, 0.8], [1.0, 0.0]], 1)
        """
        ids = np.asarray(ids, dtype=np.int64)
        if len(ids) > 1 and not (np.diff(ids) > 0).all():
            raise InvalidArgument("vocabulary ids must be ascending")
        unit, valid = normalise(np.asarray(matrix)[ids])
        return cls(ids, list(text), unit, valid)

    def __len__(self) -> int:
        return len(self.ids)

    def position(self, token_id: int) -> int:
        """The row of ``token_id``; InvalidArgument when it is not in the vocabulary."""
        at = int(np.searchsorted(self.ids, token_id))
        if at >= len(self.ids) or self.ids[at] != token_id:
            raise InvalidArgument(f"token id {token_id} has no row in the vocabulary")
        return at


def unit(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero): (n, d) float32.

    >>> unit(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    return normalise(np.atleast_2d(np.asarray(vectors, dtype=np.float32)))[0]


def nearest(vocab: Vocabulary, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` vocabulary rows of highest cosine to each query (n, d), best first, ties to the lower id.

    Returns ``(rows (n, k) int64 positions in the vocabulary, scores (n, k) float32)``; a
    zero query gets no neighbours (rows -1, scores NaN).

    >>> v = Vocabulary.from_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.arange(3), "abc")
    >>> rows, scores = nearest(v, np.array([[2.0, 1.0]]), 2)
    >>> rows.tolist(), scores.astype(float).round(3).tolist()
    ([[2, 0]], [[0.949, 0.894]])
    """
    if k < 1 or k > int(vocab.valid.sum()):
        raise InvalidArgument(f"k must be between 1 and {int(vocab.valid.sum()):,}, got {k}")
    q = unit(queries)  # (n, d)
    rows = np.full((len(q), k), -1, dtype=np.int64)
    scores = np.full((len(q), k), np.nan, dtype=np.float32)
    for start in range(0, len(q), QUERY_BLOCK):
        block = q[start : start + QUERY_BLOCK]  # (b, d)
        s = block @ vocab.unit.T  # (b, V)
        s[:, ~vocab.valid] = -np.inf
        for i, row in enumerate(s):
            if not block[i].any():
                continue
            best = ranked(row, k)
            rows[start + i, : len(best)] = best
            scores[start + i, : len(best)] = row[best]
    return rows, scores


def own_cosine(vocab: Vocabulary, states: np.ndarray, token_ids: Sequence[int]) -> np.ndarray:
    """The cosine of each state (n, d) with its own token's static row: (n,) float32.

    >>> v = Vocabulary.from_matrix(np.array([[1.0, 0.0], [0.0, 1.0]]), np.arange(2), "ab")
    >>> own_cosine(v, np.array([[1.0, 1.0], [0.0, 2.0]]), [0, 1]).astype(float).round(3).tolist()
    [0.707, 1.0]
    """
    rows = vocab.unit[[vocab.position(int(i)) for i in token_ids]]  # (n, d)
    return np.einsum("nd,nd->n", unit(states), rows).astype(np.float32)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """The cosine of two vectors (0 when either is zero).

    >>> round(cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0])), 4)
    0.7071
    """
    return float(unit(a)[0] @ unit(b)[0])


def separating(vocab: Vocabulary, a: np.ndarray, b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` rows whose cosine to ``a`` minus their cosine to ``b`` is largest, best first, and those differences.

    Two states of the same direction (a word at the same place in texts that agree up to it, in a
    decoder or at layer 0) have nothing separating them: no rows.

    >>> v = Vocabulary.from_matrix(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]), np.arange(3), "abc")
    >>> rows, gaps = separating(v, np.array([1.0, 0.0]), np.array([0.0, 1.0]), 2)
    >>> rows.tolist(), gaps.astype(float).round(3).tolist()
    ([0, 2], [1.0, 0.0])
    """
    direction = unit(a)[0] - unit(b)[0]  # (d,)
    if not np.abs(direction).max(initial=0.0) > 1e-6:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
    gaps = vocab.unit @ direction  # (V,)
    gaps[~vocab.valid] = -np.inf
    best = ranked(gaps, k)
    return best, gaps[best].astype(np.float32)


def word_positions(text: str, offsets: Sequence[tuple[int, int]], word: str) -> list[list[int]]:
    """The token positions of each occurrence of ``word`` in ``text``, found by the tokens' character ``offsets``.

    The word is matched whole and without regard to case (an uncased tokenizer lowercases
    the text; the offsets still point into the original). A token belongs to an occurrence
    when its characters overlap it; special tokens have the span (0, 0) and never do.

    >>> word_positions("the bank robbery", [(0, 3), (4, 8), (9, 12), (12, 16)], "robbery")
    [[2, 3]]
    >>> word_positions("Bank and bank", [(0, 4), (5, 8), (9, 13)], "bank")
    [[0], [2]]
    """
    word = word.strip()
    if not word:
        raise InvalidArgument("token needs a word; give one that occurs in the text")
    found = []
    for match in re.finditer(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags=re.IGNORECASE):
        a, b = match.span()
        positions = [i for i, (s, e) in enumerate(offsets) if e > s and s < b and e > a]
        if positions:
            found.append(positions)
    return found


def word_state(states: np.ndarray, positions: Sequence[int]) -> np.ndarray:
    """A word's state at every layer: the mean of its pieces' states. (layers + 1, n, d) -> (layers + 1, d)."""
    return states[:, list(positions), :].mean(axis=1)


def context_key(model: str, text: str, position: int, layer: int) -> str:
    """The key of one saved state: the same model, text, position and layer give the same key.

    >>> context_key("m", "the bank", 2, 6)
    'm|2|6|b3d0b18e01647cc3'
    """
    import hashlib

    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]
    return f"{model}|{position}|{layer}|{digest}"
