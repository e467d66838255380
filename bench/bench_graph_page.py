"""The HTML export of a prompt's graph at the flagship's size: time to the first fitted picture in headless Chromium.

    .venv/bin/python bench/bench_graph_page.py [--seeds 16] [--per-seed 36] [--k 7] [--repeats 3] [--keep prompt.html]

Builds a seeded synthetic subgraph of the size the article's prompt draws on DeepSeek-R1-Distill-Qwen-1.5B
(tests/prompt_graphs.py: 592 tokens, 4,144 edges by default, with communities and map positions), renders it
with ``atlas.pages.export.render(..., "html")`` and prints, for the page with map positions and for the same graph
without them, the median of ``--repeats`` opens, each in a fresh Chromium:

1. navigation -> the first fitted picture (``document.body.dataset.fittedAt``, the page's own
   ``performance.now()`` when the frame that fits the graph to the window was drawn: milliseconds since
   navigation started) against the 2 s budget, and how many labels that frame drew;
2. navigation -> the layout settled (``dataset.settledAt``) and the layout ticks it took, for comparison.

Chromium runs with tests/chromium.py's flags (software rendering). The cores of a shared machine are busy now
and then: the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))

from chromium import CHROMIUM, Chromium  # noqa: E402
from prompt_graphs import prompt_sized_subgraph  # noqa: E402

from atlas.pages.export import render  # noqa: E402

FITTED_BUDGET_S = 2.0
WINDOW = (1280, 860)


def machine() -> str:
    version = (
        subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
        if CHROMIUM
        else "no Chromium"
    )
    return f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {version}"


def open_once(path: Path, folder: Path) -> dict:
    with Chromium(folder, window=WINDOW) as browser:
        tab = browser.new_page()
        start = time.monotonic()
        tab.navigate(path.as_uri())
        tab.wait_for(
            "document.body && document.body.dataset.fitted === '1'", "the first fitted picture", timeout=120, poll=0.02
        )
        wall = time.monotonic() - start
        fit = tab.evaluate(
            "({at: window.atlasFit.at, labels: window.atlasFit.labels.length, ticks: window.atlasFit.ticks})"
        )
        tab.wait_for("document.body.dataset.settled === '1'", "the layout to settle", timeout=120, poll=0.1)
        return {
            "fitted": fit["at"] / 1000,
            "wall": wall,
            "labels": fit["labels"],
            "ticks_before": fit["ticks"],
            "settled": int(tab.evaluate("document.body.dataset.settledAt")) / 1000,
            "ticks": int(tab.evaluate("document.body.dataset.ticks")),
        }


def report(name: str, runs: list[dict]) -> None:
    fitted = [r["fitted"] for r in runs]
    median = statistics.median(fitted)
    verdict = "within" if median <= FITTED_BUDGET_S else "OVER"
    print(f"{name}:")
    print(
        f"  navigation -> first fitted picture, median of {len(runs)}: {median:.2f} s, {verdict} the 2 s budget "
        f"({median / FITTED_BUDGET_S:.0%}); runs {', '.join(f'{f:.2f}' for f in fitted)} s"
    )
    print(f"    wall clock over the DevTools pipe: median {statistics.median(r['wall'] for r in runs):.2f} s")
    print(
        f"    layout ticks before it: {runs[0]['ticks_before']}; labels drawn in it: {', '.join(str(r['labels']) for r in runs)}"
    )
    print(
        f"  navigation -> layout settled: median {statistics.median(r['settled'] for r in runs):.2f} s "
        f"after {statistics.median(r['ticks'] for r in runs):.0f} ticks"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=16, help="prompt tokens")
    parser.add_argument("--per-seed", type=int, default=36, help="tokens around each prompt token")
    parser.add_argument("--k", type=int, default=7, help="nearest tokens per token (edges = tokens x k)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="also write the page with positions here")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    pages = {}
    for positions in (True, False):
        subgraph = prompt_sized_subgraph(args.seeds, args.per_seed, args.k, positions=positions)
        pages[positions] = render(subgraph, "html")[""].encode("utf-8")
    print(
        f"graph: {len(subgraph.nodes):,} tokens, {len(subgraph.edges):,} edges (synthetic, seeded); page {len(pages[True]):,} bytes"
    )
    print()
    if CHROMIUM is None:
        print("no Chromium: nothing to measure")
        return
    with tempfile.TemporaryDirectory() as folder:
        for positions, name in (
            (True, "with map positions (the layout starts from them)"),
            (False, "without map positions (a short warm-up first)"),
        ):
            path = Path(args.keep if positions and args.keep else Path(folder) / f"page-{positions}.html").resolve()
            path.write_bytes(pages[positions])
            runs = [open_once(path, Path(folder) / f"run-{positions}-{i}") for i in range(args.repeats)]
            report(name, runs)
    print(f"machine after: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
