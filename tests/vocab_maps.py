"""Seeded synthetic vocabulary maps for the map tests and bench/bench_map.py.

``synthetic_map(n, k, communities, seed)`` lays out ``communities`` gaussian blobs of
Zipf-like sizes (community 0 the largest) plus a few tokens of no community, gives the
tokens unique word-like texts in variant groups (``river``, `` river``, ``River``,
``RIVER``), some special, whitespace-only and byte-fragment tokens, and hostile texts
(markup, ``</script>``, control and bidi characters). Neighbours are distinct row indices,
mostly from the token's own community, best first with decreasing scores; communities of at
most k tokens leave the end of their rows empty (-1, NaN). ``cited`` is the in-degree of
those neighbours. Row order is not id order: ids have gaps.
"""

from __future__ import annotations

import numpy as np

from atlas.core.analysis import Community
from atlas.pages.map_page import VocabularyMap

HOSTILE = [
    "</script><b>x</b>",
    "<!--",
    "\u202egnp.exe",
    "line\u2028sep",
    "nul\x00esc\x1b[2J",
    "&amp;'\"",
    "\u200fשלום",
    "🙂🚀",
    "tab\there",
    "",
]
SPECIAL = ["<|endoftext|>", "[CLS]", "[SEP]", "<s>", "</s>", "<unk>"]
WHITESPACE = ["\n", "  ", "\t", "\n\n", "   ", " \n"]
SYLLABLES = [
    "ri",
    "ver",
    "la",
    "ke",
    "sea",
    "o",
    "cean",
    "stre",
    "am",
    "po",
    "nd",
    "bro",
    "ok",
    "ba",
    "y",
    "del",
    "ta",
    "cre",
    "ek",
    "mo",
    "un",
    "tain",
    "hil",
    "l",
    "val",
    "ley",
]

BROWSER_QUERY = "MATCH (t:Token {model: 'synthetic', id: __TOKEN_ID__})-[r:SIMILAR_TO]->(n:Token) RETURN t, r, n"


def word(i: int) -> str:
    """A unique lowercase word for every i >= 0 (its digits in base len(SYLLABLES), as syllables)."""
    parts = []
    i += len(SYLLABLES)  # at least two syllables, so capitalised and upper-case forms differ
    while i:
        i, digit = divmod(i, len(SYLLABLES))
        parts.append(SYLLABLES[digit])
    return "".join(reversed(parts))


def _texts(n: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Token texts, their kinds and variant-group numbers (-1 for a group of one)."""
    texts: list[str] = []
    kind: list[int] = []
    variant: list[int] = []
    for t in SPECIAL:
        texts.append(t), kind.append(1), variant.append(-1)
    for t in WHITESPACE:
        texts.append(t), kind.append(2), variant.append(-1)
    for b in range(0x80, 0x80 + max(4, n // 400)):
        texts.append(f"\\x{b:02x}"), kind.append(3), variant.append(-1)
    for t in HOSTILE:
        texts.append(t), kind.append(0), variant.append(-1)
    base, group = 0, 0
    while len(texts) < n:
        w = word(base)
        base += 1
        forms = [w, " " + w, w.capitalize(), " " + w.capitalize(), w.upper()]
        count = int(rng.choice([1, 2, 3, 4], p=[0.45, 0.3, 0.15, 0.1]))
        chosen = [forms[j] for j in sorted(rng.choice(len(forms), count, replace=False))]
        chosen = chosen[: n - len(texts)]
        for t in chosen:
            texts.append(t), kind.append(0), variant.append(group if len(chosen) > 1 else -1)
        group += len(chosen) > 1
    order = rng.permutation(n)  # scatter kinds and groups over the rows
    return [texts[i] for i in order], np.array(kind, np.uint8)[order], np.array(variant, np.int32)[order]


def synthetic_map(n: int = 2000, k: int = 10, communities: int = 20, seed: int = 0) -> VocabularyMap:
    rng = np.random.default_rng(seed)
    ids = np.sort(rng.choice(2 * n, n, replace=False)).astype(np.int64)
    text, kind, variant = _texts(n, rng)

    # Zipf-like community sizes, largest first (the last has 2 tokens); about 2% of the tokens in no community.
    weights = 1.0 / np.arange(1, communities + 1) ** 0.8
    free = max(1, n // 50)
    sizes = np.maximum(1, np.floor(weights / weights.sum() * (n - free))).astype(int)
    if communities > 1:
        sizes[-1] = 2  # a community smaller than k: its rows end in -1
    sizes[0] += n - free - sizes.sum()
    community = np.full(n, -1, np.int32)
    community[: n - free] = np.repeat(np.arange(communities, dtype=np.int32), sizes)
    community = community[rng.permutation(n)]

    centres = rng.uniform(-50, 50, (communities, 2))
    spread = 0.6 + 0.08 * np.sqrt(sizes)
    x = np.empty(n, np.float32)
    y = np.empty(n, np.float32)
    members = community >= 0
    x[members] = centres[community[members], 0] + rng.normal(0, 1, members.sum()) * spread[community[members]]
    y[members] = centres[community[members], 1] + rng.normal(0, 1, members.sum()) * spread[community[members]]
    x[~members] = rng.uniform(-55, 55, (~members).sum())
    y[~members] = rng.uniform(-55, 55, (~members).sum())

    neighbours, scores = _neighbours(community, x, k, rng)
    cited = np.bincount(neighbours[neighbours >= 0], minlength=n).astype(np.int32)

    listed = []
    for c in range(communities):
        rows = np.flatnonzero(community == c)
        top = rows[np.lexsort((ids[rows], -cited[rows]))][:3]
        label = " · ".join(text[r].strip() or "∅" for r in top)
        cx, cy = x[rows].mean(), y[rows].mean()
        medoid = rows[np.argmin((x[rows] - cx) ** 2 + (y[rows] - cy) ** 2)]
        listed.append(Community(c, int(rows.size), label, float(x[medoid]), float(y[medoid])))

    return VocabularyMap(
        model="synthetic",
        title=f"synthetic map </script> n={n} k={k}",
        ids=ids,
        text=text,
        x=x,
        y=y,
        community=community,
        cited=cited,
        kind=kind,
        variant=variant,
        neighbours=neighbours,
        scores=scores,
        communities=listed,
        browser_query=BROWSER_QUERY,
    )


def _neighbours(community: np.ndarray, x: np.ndarray, k: int, rng: np.random.Generator):
    """(n, k) distinct row indices from the token's own block (its community sorted by x), best first, and scores."""
    n = community.shape[0]
    order = np.lexsort((x, community))  # rows grouped by community (-1 first), by x inside
    block = community[order]
    starts = np.flatnonzero(np.r_[True, block[1:] != block[:-1]])
    lengths = np.diff(np.r_[starts, n])
    start_of = np.repeat(starts, lengths)  # for each sorted position, where its block starts
    length_of = np.repeat(lengths, lengths)
    position = np.arange(n) - start_of
    # offsets +1, -1, +2, -2, ... inside the block, wrapping; a block of L tokens gives L - 1 distinct ones
    steps = np.array([(j // 2 + 1) * (1 if j % 2 == 0 else -1) for j in range(k)])
    picked = start_of[:, None] + (position[:, None] + steps[None, :]) % length_of[:, None]
    # a block of L tokens has L - 1 others: the first min(L - 1, k) offsets reach distinct ones, the rest is -1
    valid = np.arange(k)[None, :] < np.minimum(length_of - 1, k)[:, None]
    neighbours = np.empty((n, k), np.int64)
    neighbours[order] = np.where(valid, order[picked], -1)
    neighbours = neighbours.astype(np.int32)
    base = rng.uniform(0.55, 0.95, (n, 1))
    scores = (base - np.cumsum(rng.uniform(0.001, 0.02, (n, k)), axis=1)).astype(np.float32)
    scores[neighbours < 0] = np.nan
    return neighbours, scores
