"""Under-trained tokens: how each token round-trips through its tokenizer, and an under-training score from the embeddings.

The method follows Land and Bartolo, *Fishing for Magikarp* (EMNLP 2024).

**Categories.** Each token is decoded alone and its text encoded again (see
:mod:`atlas.files.token_categories` for the tokenizer side); :func:`category` names the result:

- ``special``: a special token (``[CLS]``, ``<|endoftext|>``), whatever its round trip;
- ``reachable``: the text encodes back to the token itself;
- ``undecodable``: the token is a partial UTF-8 byte sequence, so its text holds U+FFFD
  (the replacement character) and does not encode back to it;
- ``unreachable_one``: the text encodes to one other token;
- ``unreachable_several``: the text encodes to several tokens (or none): no text ever gives this token.

**Score.** Let ``X`` be the (n, d) embedding rows, ``u`` the first principal component
of ``X`` (the unit eigenvector of the covariance of the centred rows with the largest
eigenvalue) and ``R`` the reference rows (tokens known to be unused). With the first
component removed from every row, ``x' = x - (x·u) u``, and ``r = mean of x' over R``::

    score(x) = (x' · r) / (|x'| |r|)          (cosine; 0 where |x'| or |r| is 0)

A high score means the row points where the unused rows point. The paper's indicator is the
same cosine taken as a distance (1 - score) on the unembedding matrix; for a tied or
input-only matrix it is the variant it recommends (first component removed, because that
direction is shared by almost every row and hides the rest).

**Candidates.** ``threshold`` is the :data:`CANDIDATE_QUANTILE` quantile of the scores of
the reachable tokens outside the reference (the paper verifies the 2% nearest); a candidate is a token that is
neither special nor in the reference whose score is at least ``threshold``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from atlas.errors import InvalidArgument

SPECIAL, REACHABLE, UNDECODABLE, UNREACHABLE_ONE, UNREACHABLE_SEVERAL = (
    "special",
    "reachable",
    "undecodable",
    "unreachable_one",
    "unreachable_several",
)
CATEGORIES = (REACHABLE, UNREACHABLE_ONE, UNREACHABLE_SEVERAL, UNDECODABLE, SPECIAL)
UNREACHABLE = (UNREACHABLE_ONE, UNREACHABLE_SEVERAL)
CANDIDATE_QUANTILE = 0.98  # candidates: at or above the top 2% of reachable tokens' scores
REPLACEMENT = "\ufffd"

# Tokens a tokenizer declares unused: [unused12] (BERT), <unused3> (Gemma), <|reserved_special_token_7|>
# (Llama 3), <|reserved_5|>, [RESERVED_2].
DECLARED_UNUSED = re.compile(r"^(\[|<\|?)(unused|reserved)[a-z_]*?_?\d+(\]|\|?>)$", re.IGNORECASE)


def category(token_id: int, text: str, reencoded: Sequence[int], special: bool) -> str:
    """The round-trip category of one token from its decoded ``text`` and that text's ``reencoded`` ids.

    >>> category(5, "cat", [5], False), category(6, "ca", [7, 8], False), category(9, "\\ufffd", [10], False)
    ('reachable', 'unreachable_several', 'undecodable')
    >>> category(0, "[PAD]", [0], True), category(11, "Cat", [12], False)
    ('special', 'unreachable_one')
    """
    if special:
        return SPECIAL
    if list(reencoded) == [token_id]:
        return REACHABLE
    if REPLACEMENT in text:
        return UNDECODABLE
    return UNREACHABLE_ONE if len(reencoded) == 1 else UNREACHABLE_SEVERAL


def declared_unused(raw: Sequence[str]) -> np.ndarray:
    """A mask of the tokenizer pieces that name themselves unused or reserved (``[unused0]``, ``<|reserved_3|>``).

    >>> declared_unused(["[unused0]", "unused", "<|reserved_special_token_7|>", "[UNK]", "<unused12>"]).tolist()
    [True, False, True, False, True]
    """
    return np.array([bool(DECLARED_UNUSED.match(piece)) for piece in raw], dtype=bool)


def first_component(matrix: np.ndarray, block: int = 16_384) -> np.ndarray:
    """The first principal component (unit vector, sign fixed so its largest entry is positive) of ``matrix``'s rows.

    The covariance is accumulated in float64 over blocks of centred rows, so a (151,936 x 1,536)
    float32 matrix needs no float64 copy.
    """
    x = np.asarray(matrix, dtype=np.float32)
    n, d = x.shape
    mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
    covariance = np.zeros((d, d), dtype=np.float64)
    for start in range(0, n, block):
        rows = x[start : start + block] - mean
        covariance += rows.T @ rows
    _, vectors = np.linalg.eigh(covariance)
    u = vectors[:, -1]
    return u if u[np.argmax(np.abs(u))] > 0 else -u


@dataclass(frozen=True)
class Scores:
    """The score of every row (see the module's formula), the threshold and which rows are candidates."""

    score: np.ndarray  # (n,) float32: cosine to the reference direction
    threshold: float
    candidate: np.ndarray  # (n,) bool
    reference: np.ndarray  # (n,) bool: rows in the reference
    component: np.ndarray  # (d,) the first principal component that was removed


def scores(matrix: np.ndarray, reference: np.ndarray, component: np.ndarray | None = None) -> np.ndarray:
    """Each row's cosine to the mean of the ``reference`` rows, the first principal component removed from all.

    ``reference`` is a boolean mask or row indices; ``component`` the unit vector to remove
    (default: :func:`first_component` of ``matrix``).
    """
    x = np.asarray(matrix, dtype=np.float32)
    rows = np.flatnonzero(reference) if np.asarray(reference).dtype == bool else np.asarray(reference, dtype=np.int64)
    if len(rows) == 0:
        raise InvalidArgument("the reference of the under-training score holds no rows")
    u = (first_component(x) if component is None else np.asarray(component, dtype=np.float64)).astype(np.float32)
    along = x @ u  # (n,)
    r = x[rows].mean(axis=0, dtype=np.float64) - along[rows].mean(dtype=np.float64) * u
    r = r.astype(np.float32)
    # |x'|^2 = |x|^2 - (x·u)^2, and x'·r = x·r - (x·u)(u·r), so no (n, d) copy is made
    norms = np.sqrt(np.maximum(np.einsum("ij,ij->i", x, x, dtype=np.float32) - along * along, 0.0))
    dots = x @ r - along * float(u @ r)
    denominator = norms * float(np.linalg.norm(r))
    out = np.zeros(len(x), dtype=np.float32)
    np.divide(dots, denominator, out=out, where=denominator > 1e-12)
    return np.clip(out, -1.0, 1.0)


def indicator(
    matrix: np.ndarray,
    reference: np.ndarray,
    categories: Sequence[str],
    quantile: float = CANDIDATE_QUANTILE,
) -> Scores:
    """Scores, the candidate threshold and the candidates of ``matrix`` with reference mask ``reference``.

    ``categories`` gives each row's :func:`category`; the threshold is the ``quantile`` of the
    scores of the reachable rows outside the reference (of all non-special ones when none is reachable).
    """
    x = np.asarray(matrix, dtype=np.float32)
    in_reference = np.asarray(reference, dtype=bool)
    kinds = np.asarray(categories)
    component = first_component(x)
    score = scores(x, in_reference, component)
    pool = (kinds == REACHABLE) & ~in_reference
    if not pool.any():
        pool = (kinds != SPECIAL) & ~in_reference
    threshold = float(np.quantile(score[pool], quantile)) if pool.any() else float("inf")
    candidate = (score >= threshold) & (kinds != SPECIAL) & ~in_reference
    return Scores(score, threshold, candidate, in_reference, component)


def count_categories(categories: Sequence[str]) -> dict[str, int]:
    """How many tokens fall in each category, in :data:`CATEGORIES` order.

    >>> count_categories(["reachable", "special", "reachable"])
    {'reachable': 2, 'unreachable_one': 0, 'unreachable_several': 0, 'undecodable': 0, 'special': 1}
    """
    kinds = list(categories)
    return {name: kinds.count(name) for name in CATEGORIES}


@dataclass(frozen=True)
class HeldOut:
    """How a seeded held-out part of the reference ranks when the rest is the reference."""

    kept: np.ndarray  # rows used as reference
    held: np.ndarray  # rows held out
    ranks: np.ndarray  # 1-based rank of each held-out row among the ranked rows, sorted
    order: np.ndarray  # the ranked rows (every row but the kept and ``excluded`` ones), best first

    def recall(self, top: int) -> float:
        """The share of the held-out rows among the ``top`` best-ranked rows."""
        return float(np.count_nonzero(self.ranks <= top)) / len(self.held)

    def precision(self, top: int) -> float:
        """The share of the ``top`` best-ranked rows that are held-out rows."""
        return float(np.count_nonzero(self.ranks <= top)) / top


def held_out(
    matrix: np.ndarray, reference: np.ndarray, share: float = 0.5, seed: int = 0, excluded: np.ndarray | None = None
) -> HeldOut:
    """Hold ``share`` of the ``reference`` rows out (seeded), score with the rest, and rank the held-out rows.

    Rows in ``excluded`` (a mask: special tokens, say) are not ranked.
    """
    rows = np.flatnonzero(np.asarray(reference, dtype=bool))
    if len(rows) < 2:
        raise InvalidArgument(f"holding out needs at least 2 reference rows, got {len(rows)}")
    rng = np.random.default_rng(seed)
    shuffled = rng.permutation(rows)
    n_held = min(len(rows) - 1, max(1, round(share * len(rows))))
    held, kept = np.sort(shuffled[:n_held]), np.sort(shuffled[n_held:])
    score = scores(matrix, kept)
    ranked = np.ones(len(score), dtype=bool)
    ranked[kept] = False
    if excluded is not None:
        ranked &= ~np.asarray(excluded, dtype=bool)
        ranked[held] = True
    candidates = np.flatnonzero(ranked)
    order = candidates[np.lexsort((candidates, -score[candidates]))]
    position = np.empty(len(score), dtype=np.int64)
    position[order] = np.arange(1, len(order) + 1)
    return HeldOut(kept, held, np.sort(position[held]), order)
