"""Corpus atlases: how text becomes words, and the article's TF-IDF vectors of those words.

A corpus atlas (TF-IDF or word2vec of a text corpus, see :mod:`atlas.loaders.corpus`) has
words for tokens. :func:`words` is the one rule that cuts text into those words; the load
records its name (:data:`WORD_RULE`) on the Model node, and `atlas prompt` / `atlas tokens`
cut a prompt with the same rule on such a model. Everything here is pure.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

from atlas.errors import InvalidArgument

WORD_RULE = "letters-v1"  # recorded on the Model node as ``word_rule``
MAX_WORD = 100  # characters: a longer run of letters is not a word of a text corpus

# A word is a run of letters (any script), with single apostrophes inside it ("o'er", "don't"),
# or a run of digits. Everything else (spaces, punctuation, an apostrophe at either end) separates words.
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*|\d+")


def words(text: str) -> list[str]:
    """The words of ``text``, in order, case kept: the word rule of every corpus atlas (:data:`WORD_RULE`).

    A word is a run of letters of any script, with single apostrophes (``'`` or ``’``)
    inside it, or a run of digits. Spaces, punctuation, underscores and apostrophes at a
    word's ends separate words; case is kept (``King`` and ``king`` are two words, one
    variant group).

    >>> words("To be, or not to be: that is the question. O'er 2 hills, 'tis KING Lear's")
    ['To', 'be', 'or', 'not', 'to', 'be', 'that', 'is', 'the', 'question', "O'er", '2', 'hills', 'tis', 'KING', "Lear's"]
    >>> words("naïve café_au_lait -- 1,000")
    ['naïve', 'café', 'au', 'lait', '1', '000']
    """
    return _WORD.findall(text)


def check_words(found: Sequence[str], where: str) -> None:
    """InvalidArgument naming the first word longer than :data:`MAX_WORD` characters in ``found``."""
    for word in found:
        if len(word) > MAX_WORD:
            raise InvalidArgument(
                f"{where} has a word of {len(word):,} characters ({word[:20]}...); words of a text corpus are at "
                f"most {MAX_WORD} letters: give prose, not data"
            )


def vocabulary(counts: Counter[str], min_count: int) -> list[str]:
    """The words counted at least ``min_count`` times, most frequent first (ties by text): row order of the atlas.

    >>> vocabulary(Counter({"b": 2, "a": 2, "c": 1, "d": 5}), 2)
    ['d', 'a', 'b']
    """
    return [w for w, n in sorted(counts.items(), key=lambda item: (-item[1], item[0])) if n >= min_count]


def chunk_bounds(total: int, chunks: int) -> list[tuple[int, int]]:
    """``chunks`` nearly equal consecutive ``[start, stop)`` spans of ``total`` words (the article's documents).

    >>> chunk_bounds(10, 3)
    [(0, 3), (3, 6), (6, 10)]
    """
    if chunks < 2:
        raise InvalidArgument(f"chunks must be at least 2 (documents to compare a word across), got {chunks}")
    if chunks > total:
        raise InvalidArgument(f"chunks={chunks} is more than the corpus's {total:,} words: ask for fewer chunks")
    edges = [total * i // chunks for i in range(chunks + 1)]
    return list(pairwise(edges))


def tfidf(sequence: Sequence[str], vocab: Sequence[str], chunks: int) -> np.ndarray:
    r"""The article's TF-IDF vectors: row ``i`` is ``vocab[i]``'s score in each of ``chunks`` equal chunks.

    The word sequence is cut into ``chunks`` consecutive documents of nearly equal
    length (:func:`chunk_bounds`). In chunk ``d``, ``tf(t, d) = count(t, d) / len(d)``;
    across them ``idf(t) = ln(N / df(t))`` with ``N = chunks`` and ``df(t)`` the number of
    chunks that hold ``t``; the score is ``tf * idf``. A word found in every chunk has
    idf 0, hence a zero vector: no direction, so no neighbours.

    >>> tfidf(["a", "b", "a", "c"], ["a", "b", "c"], 2)  # tf 1/2, idf ln 2 = 0.693; "a" is in both chunks
    array([[0.       , 0.       ],
           [0.3465736, 0.       ],
           [0.       , 0.3465736]], dtype=float32)
    """
    bounds = chunk_bounds(len(sequence), chunks)
    row = {w: i for i, w in enumerate(vocab)}
    counts = np.zeros((len(vocab), chunks), dtype=np.float64)
    for d, (start, stop) in enumerate(bounds):
        for word, n in Counter(sequence[start:stop]).items():
            i = row.get(word)
            if i is not None:
                counts[i, d] = n
    lengths = np.array([stop - start for start, stop in bounds], dtype=np.float64)
    df = (counts > 0).sum(axis=1)
    idf = np.log(chunks / np.maximum(df, 1))  # a word of the vocabulary is in at least one chunk
    return ((counts / lengths) * idf[:, None]).astype(np.float32)


def idf(chunks: int, df: int) -> float:
    """``ln(chunks / df)``: the article's inverse document frequency (0 for a word in every chunk).

    >>> round(idf(10, 2), 2)  # the article's "cat": in 2 of 10 documents
    1.61
    """
    return math.log(chunks / df)
