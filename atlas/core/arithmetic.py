"""Vector arithmetic over a vocabulary: parse ``king - man + woman``, combine unit rows, rank every row against it.

Pure: no Neo4j, no files. :mod:`atlas.views.expression` resolves the operands to tokens and reads
their rows; this module parses the text, turns operand rows into one unit vector and
scores the whole matrix against it in row blocks.

The expression language::

    expression := ['+' | '-'] term (('+' | '-') term)*
    term       := [NUMBER '*'] operand
    operand    := WORD | '"' TEXT '"'

A WORD is a run of characters other than whitespace, ``+``, ``-``, ``*`` and ``"``
(``king``, ``##ing``, ``2025``); a NUMBER is a decimal weight (``0.5``, ``2``, ``.25``, ``1e-3``) that a float holds.
A double-quoted TEXT keeps its spaces (``" king"`` is the byte-level token with its
leading space; ``"artificial intelligence"`` is a text of several tokens) and takes
``\\"`` and ``\\\\`` for a quote and a backslash. Positions in error messages count
characters from 1.

Evaluation works on unit rows: every operand is a unit vector (a token's row
normalised, or the normalised mean of its tokens' normalised rows), the weighted sum
of the operands is normalised again, and every row of the matrix is scored by its
cosine with it.

>>> terms = parse("king - man + 0.5*woman")
>>> [(t.weight, t.text) for t in terms]
[(1.0, 'king'), (-1.0, 'man'), (0.5, 'woman')]
>>> e = np.eye(3, dtype=np.float32)                        # three orthogonal unit rows
>>> query = combine([1.0, -1.0], e[[0, 1]])               # row 0 - row 1, normalised
>>> query.astype(float).round(4).tolist()
[0.7071, -0.7071, 0.0]
>>> scores = cosine_scores(block_reader(np.array([[2.0, 0, 0], [0, 0, 0], [1.0, -1.0, 0]])), 3, query)
>>> scores.astype(float).round(4).tolist()                 # the zero row scores -inf: it never comes out
[0.7071, -inf, 1.0]
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np

from atlas.errors import ExpressionError

OPERATORS = "+-*"
WORKERS = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
BLOCK_BYTES = 6 * 2**20  # float32 bytes of one row block per worker: stays in cache while it is scored
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_MANTISSA_E = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)[eE]")  # "1e" of "1e-3": its sign is an exponent's, not an operator

ReadBlock = Callable[
    [int, int, np.ndarray], np.ndarray
]  # (start, stop, buffer (B, d) float32) -> rows (stop - start, d)


@dataclass(frozen=True)
class Term:
    """One operand of an expression with its signed weight.

    ``text`` is the operand as written, without quotes; ``quoted`` says it was in
    double quotes (a text, looked up as a token first, else tokenized); ``position`` is
    where it starts in the expression (from 1).
    """

    weight: float
    text: str
    quoted: bool
    position: int


@dataclass(frozen=True)
class _Lexeme:
    kind: str  # "op" (+ - *), "word", "quoted"
    text: str
    position: int  # from 1


def parse(expression: str) -> list[Term]:
    """The terms of ``expression``, in order; ExpressionError naming the position of what is wrong.

    >>> [(t.weight, t.text, t.quoted) for t in parse('-king + 2*"artificial intelligence"')]
    [(-1.0, 'king', False), (2.0, 'artificial intelligence', True)]
    >>> parse("king - ")
    Traceback (most recent call last):
    ...
    atlas.errors.ExpressionError: expected a token after '-' at position 8, found the end of the expression
    """
    lexemes = _lex(expression)
    if not lexemes:
        raise ExpressionError('the expression is empty; write one like "king - man + woman"')
    terms: list[Term] = []
    at = 0
    sign = 1.0
    if lexemes[0].kind == "op" and lexemes[0].text in "+-":
        sign = -1.0 if lexemes[0].text == "-" else 1.0
        at = 1
    after = lexemes[0].text if at else None  # the operator the next term follows
    end = len(expression) + 1
    while True:
        weight = 1.0
        if at >= len(lexemes):
            raise ExpressionError(f"expected a token{_after(after)} at position {end}, found the end of the expression")
        lexeme = lexemes[at]
        if _is_weight(lexemes, at):
            weight, written = float(lexeme.text), lexeme.text
            after = "*"
            at += 2
            if at >= len(lexemes):
                raise ExpressionError(f"expected a token after '*' at position {end}, found the end of the expression")
            lexeme = lexemes[at]
            if not math.isfinite(weight):
                shown = written if len(written) <= 12 else written[:12] + "…"
                raise ExpressionError(
                    f"the weight {shown} of {lexeme.text!r} at position {lexeme.position} is not a finite number "
                    "(a float holds up to about 1.8e308); write a smaller weight"
                )
        if lexeme.kind == "op":
            raise ExpressionError(
                f"expected a token{_after(after)} at position {lexeme.position}, found {lexeme.text!r}"
            )
        if lexeme.kind == "quoted" and not lexeme.text:
            raise ExpressionError(
                f"the quoted text at position {lexeme.position} is empty; put a token between the quotes"
            )
        terms.append(Term(sign * weight, lexeme.text, lexeme.kind == "quoted", lexeme.position))
        at += 1
        if at >= len(lexemes):
            return terms
        following = lexemes[at]
        if following.kind != "op" or following.text == "*":
            hint = (
                " (a weight goes before its token: 2*king)" if following.text == "*" and following.kind == "op" else ""
            )
            found = repr(following.text) if following.kind != "quoted" else f'"{following.text}"'
            raise ExpressionError(f"expected '+' or '-' at position {following.position}, found {found}{hint}")
        sign = -1.0 if following.text == "-" else 1.0
        after = following.text
        at += 1


def _is_weight(lexemes: list[_Lexeme], at: int) -> bool:
    """Whether lexeme ``at`` is a number followed by ``*``."""
    lexeme, following = lexemes[at], lexemes[at + 1] if at + 1 < len(lexemes) else None
    is_number = lexeme.kind == "word" and _NUMBER.fullmatch(lexeme.text) is not None
    return is_number and following is not None and following.kind == "op" and following.text == "*"


def _after(operator: str | None) -> str:
    return f" after {operator!r}" if operator else ""


def _lex(expression: str) -> list[_Lexeme]:
    """Operators, words and quoted texts with their positions (from 1)."""
    lexemes: list[_Lexeme] = []
    i, n = 0, len(expression)
    while i < n:
        c = expression[i]
        if c.isspace():
            i += 1
        elif c in OPERATORS:
            lexemes.append(_Lexeme("op", c, i + 1))
            i += 1
        elif c == '"':
            start, i, chars = i, i + 1, []
            while i < n and expression[i] != '"':
                if expression[i] == "\\" and i + 1 < n and expression[i + 1] in '"\\':
                    i += 1
                chars.append(expression[i])
                i += 1
            if i >= n:
                raise ExpressionError(f'the quote at position {start + 1} is never closed; end the text with "')
            lexemes.append(_Lexeme("quoted", "".join(chars), start + 1))
            i += 1
        else:
            start = i
            while i < n and not expression[i].isspace() and expression[i] not in OPERATORS + '"':
                i += 1
                if (
                    i + 1 < n
                    and expression[i] in "+-"
                    and expression[i + 1].isdigit()
                    and _MANTISSA_E.fullmatch(expression[start:i])
                ):
                    i += 1  # the exponent's sign: its digits follow
            lexemes.append(_Lexeme("word", expression[start:i], start + 1))
    return lexemes


def describe(terms: Sequence[Term]) -> str:
    """The expression written back in a canonical form.

    >>> describe(parse('king-man+0.5 * "a b"'))
    'king - man + 0.5*"a b"'
    """
    out = ""
    for i, term in enumerate(terms):
        size = abs(term.weight)
        text = '"' + term.text.replace("\\", "\\\\").replace('"', '\\"') + '"' if term.quoted else term.text
        operand = ("" if size == 1 else f"{size:g}*") + text
        if i == 0:
            out = ("-" if term.weight < 0 else "") + operand
        else:
            out += (" - " if term.weight < 0 else " + ") + operand
    return out


def unit_mean(rows: np.ndarray) -> np.ndarray:
    """The unit vector of one operand: its rows (m, d) normalised, averaged, normalised again; (d,) float32.

    Raises ExpressionError when a row is zero (it has no direction) or the mean is.

    >>> unit_mean(np.array([[3.0, 0.0], [0.0, 5.0]])).astype(float).round(4).tolist()
    [0.7071, 0.7071]
    """
    rows = np.asarray(rows, dtype=np.float32)  # (m, d)
    norms = np.linalg.norm(rows, axis=1)  # (m,)
    if rows.shape[0] == 0 or not (norms > 0).all():
        raise ExpressionError("a token of the expression has an all-zero embedding row; it has no direction")
    mean = (rows / norms[:, None]).mean(axis=0)  # (d,)
    size = np.linalg.norm(mean)
    if not size > 1e-6:
        raise ExpressionError("the tokens of a quoted text cancel out; their mean has no direction")
    return (mean / size).astype(np.float32)


def combine(weights: Sequence[float], vectors: np.ndarray) -> np.ndarray:
    """The normalised weighted sum of unit operand vectors (n, d): the query, (d,) float32.

    The weights are scaled by the largest first (the result is normalised, so only their
    ratios count): ``1e-320*king`` is ``king``, and ``1e308*a + 1e308*b`` does not overflow.
    Raises ExpressionError when the sum is the zero vector (``king - king``), or a weight
    or a vector is not a finite number.

    >>> combine([1.0, 1.0], np.array([[1.0, 0.0], [0.0, 1.0]])).astype(float).round(4).tolist()
    [0.7071, 0.7071]
    """
    w = np.asarray(weights, dtype=np.float64)  # (n,)
    vectors = np.asarray(vectors, dtype=np.float64)  # (n, d)
    if not (np.isfinite(w).all() and np.isfinite(vectors).all()):
        raise ExpressionError(
            "a weight or an embedding row of the expression is not a finite number; leave that term out"
        )
    largest = float(np.abs(w).max(initial=0.0))
    if largest > 0:
        w = w / largest  # (n,) in [-1, 1]
    total = w @ vectors  # (d,)
    size = float(np.linalg.norm(total))
    if not size > 1e-6 * max(1.0, float(np.abs(w).sum())):
        raise ExpressionError("the expression is the zero vector (its terms cancel out); it has no nearest tokens")
    return (total / size).astype(np.float32)


def block_reader(matrix: np.ndarray) -> ReadBlock:
    """A ReadBlock over an in-memory matrix (for tests and small models)."""
    source = np.asarray(matrix)

    def read(start: int, stop: int, buffer: np.ndarray) -> np.ndarray:
        out = buffer[: stop - start]
        np.copyto(out, source[start:stop], casting="unsafe")
        return out

    return read


def block_rows(dim: int) -> int:
    """Rows per block so that one float32 block is about BLOCK_BYTES.

    >>> block_rows(384), block_rows(1536)
    (4096, 1024)
    """
    return max(1, BLOCK_BYTES // (4 * max(1, dim)))


def cosine_scores(
    read: ReadBlock, rows: int, query: np.ndarray, workers: int = WORKERS, blas=None, step: int | None = None
) -> np.ndarray:
    """The cosine of every row with the unit ``query`` (d,): (rows,) float32, -inf for a zero row.

    One pass over the rows in blocks of ``step`` rows (default :func:`block_rows`); ``workers`` threads each take
    a contiguous share, with one float32 block buffer each (the matrix itself is never
    held as float32 beyond those blocks). ``blas`` is a threadpoolctl controller: BLAS
    is kept to one thread meanwhile, since the threads already fill the cores.
    """
    query = np.asarray(query, dtype=np.float32)  # (d,)
    d = query.shape[0]
    step = step or block_rows(d)
    scores = np.empty(rows, dtype=np.float32)  # (V,)
    workers = max(1, min(workers, -(-rows // step)))
    share = -(-rows // workers)

    def part(lo: int, hi: int) -> None:
        buffer = np.empty((step, d), dtype=np.float32)  # (B, d)
        for start in range(lo, hi, step):
            stop = min(start + step, hi)
            block = read(start, stop, buffer)  # (b, d) float32
            squares = np.einsum("ij,ij->i", block, block)  # (b,)
            dots = block @ query  # (b,)
            out = scores[start:stop]
            np.divide(dots, np.sqrt(squares), out=out, where=squares > 0)
            out[~(squares > 0)] = -np.inf

    limit = blas.limit(limits=1, user_api="blas") if blas is not None and workers > 1 else nullcontext()
    with limit:
        if workers == 1:
            part(0, rows)
        else:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                for future in [pool.submit(part, lo, min(lo + share, rows)) for lo in range(0, rows, share)]:
                    future.result()
    return scores


def ranked(scores: np.ndarray, count: int, skip: Iterable[int] = ()) -> np.ndarray:
    """Row ids of the ``count`` best scores, best first (ties: the lower id), leaving out ``skip`` and -inf rows.

    >>> ranked(np.array([0.5, 0.9, -np.inf, 0.9, 0.1], np.float32), 3, skip=[1])
    array([3, 0, 4])
    """
    scores = np.array(scores, dtype=np.float32, copy=True)  # (V,)
    left_out = np.fromiter((int(i) for i in skip), dtype=np.int64)
    left_out = left_out[(left_out >= 0) & (left_out < scores.shape[0])]
    scores[left_out] = -np.inf
    usable = int(np.isfinite(scores).sum())
    count = min(int(count), usable)
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    if count < scores.shape[0]:
        kth = np.partition(scores, -count)[-count]  # the count-th best score
        candidates = np.flatnonzero(scores >= kth)  # every row tying with it too
    else:
        candidates = np.arange(scores.shape[0])
    candidates = candidates[np.isfinite(scores[candidates])]
    order = np.lexsort((candidates, -scores[candidates]))
    return candidates[order][:count].astype(np.int64)
