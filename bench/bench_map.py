"""The vocabulary map page at the flagship's size: file size and time to the first frame in headless Chromium.

    .venv/bin/python bench/bench_map.py [--n 151665] [--k 20] [--communities 1500] [--repeats 3] [--keep map.html]

Builds a seeded synthetic map (tests/vocab_maps.py) of n tokens with k neighbours each, renders it with
``atlas.pages.map_page.render`` and prints:

1. the page size against the 25 MB budget (25,000,000 bytes), with what takes the room;
2. the time from navigation to ``document.body.dataset.ready == "1"`` (every point drawn) against the 3 s
   budget, median of ``--repeats`` opens, each in a fresh Chromium: the page's own ``map:drawn`` mark
   (milliseconds since navigation start) and the wall clock seen over the DevTools pipe, which also waits for
   the browser to finish reading the rest of the file;
3. frame times while zooming (a 2 s camera flight) and panning (a mouse drag), from the gaps between the
   scatter plot's ``drawing`` events.

Chromium runs with tests/chromium.py's flags: WebGL there is SwiftShader, a software rasteriser, so frame
times measure the CPU, not a GPU. The cores of a shared machine are busy now and then: the load average is
printed with the figures.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
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
from vocab_maps import synthetic_map  # noqa: E402

from atlas.pages.map_page import render  # noqa: E402

SIZE_BUDGET = 25_000_000
READY_BUDGET_S = 3.0

ZOOM = """new Promise((resolve) => {
  const s = atlasMap.scatter, times = [];
  const off = s.subscribe('drawing', () => times.push(performance.now()));
  s.zoomToLocation([atlasMap.X[ROW], atlasMap.Y[ROW]], 0.1, { transition: true, transitionDuration: 2000 });
  setTimeout(() => { s.unsubscribe(off); resolve(times); }, 2500);
})"""
RECORD = """(() => { window.benchTimes = []; window.benchOff = atlasMap.scatter.subscribe('drawing', () => benchTimes.push(performance.now())); })()"""
STOP = """(() => { atlasMap.scatter.unsubscribe(benchOff); return benchTimes; })()"""


def machine() -> str:
    version = (
        subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
        if CHROMIUM
        else "no Chromium"
    )
    return f"{os.cpu_count()} cores, load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {version}"


def parts(page: str) -> dict[str, int]:
    """Bytes of each script element by id (the library and viewer script have none)."""
    sizes = {}
    for match in re.finditer(r'<script(?: type="[^"]+")?(?: id="([^"]+)")?>(.*?)</script>', page, re.S):
        name = match.group(1) or ("viewer" if "async function" in match.group(2)[:200] else "library")
        sizes[name] = sizes.get(name, 0) + len(match.group(2).encode("utf-8"))
    return sizes


def gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(times)]


def frames(label: str, intervals: list[float]) -> str:
    if not intervals:
        return f"{label}: no frames"
    q = statistics.quantiles(intervals, n=10) if len(intervals) > 1 else intervals * 9
    return (
        f"{label}: {len(intervals) + 1} frames, median {statistics.median(intervals):.0f} ms "
        f"({1000 / statistics.median(intervals):.1f} fps), 90th percentile {q[-1]:.0f} ms"
    )


def open_once(path: Path, folder: Path, row: int, measure_frames: bool) -> dict:
    with Chromium(folder, window=(1400, 900)) as browser:
        tab = browser.new_page()
        start = time.monotonic()
        tab.navigate(path.as_uri())
        tab.wait_for("document.body && document.body.dataset.ready === '1'", "the map to draw", timeout=120, poll=0.02)
        wall = time.monotonic() - start
        marks = tab.evaluate("Object.fromEntries(performance.getEntriesByType('mark').map(m => [m.name, m.startTime]))")
        result = {"wall": wall, "marks": marks, "points": tab.evaluate("document.body.dataset.points")}
        tab.wait_for("document.body.dataset.neighbours === '1'", "the neighbours to unpack", timeout=120)
        result["neighbours_ms"] = tab.evaluate("performance.getEntriesByName('map:neighbours')[0].startTime")
        result["renderer"] = tab.evaluate(
            "(() => { const g = document.createElement('canvas').getContext('webgl');"
            " const e = g && g.getExtension('WEBGL_debug_renderer_info'); return e ? g.getParameter(e.UNMASKED_RENDERER_WEBGL) : '?'; })()"
        )
        if measure_frames:
            time.sleep(0.5)
            result["zoom"] = gaps(tab.evaluate(ZOOM.replace("ROW", str(row)), await_promise=True))
            tab.evaluate("atlasMap.scatter.zoomToOrigin()")
            time.sleep(1.0)
            r = tab.evaluate(
                "(() => { const r = document.getElementById('stage').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()"
            )
            x0, y0 = r[0] + r[2] * 0.55, r[1] + r[3] * 0.5
            tab.evaluate(RECORD)
            tab.send(
                "Input.dispatchMouseEvent",
                {"type": "mousePressed", "x": x0, "y": y0, "button": "left", "clickCount": 1},
            )
            for step in range(1, 41):
                tab.send(
                    "Input.dispatchMouseEvent",
                    {"type": "mouseMoved", "x": x0 - 6 * step, "y": y0 - 3 * step, "button": "left", "buttons": 1},
                )
                time.sleep(0.05)
            tab.send(
                "Input.dispatchMouseEvent",
                {"type": "mouseReleased", "x": x0 - 240, "y": y0 - 120, "button": "left", "clickCount": 1},
            )
            time.sleep(0.5)
            result["pan"] = gaps(tab.evaluate(STOP))
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=151_665)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--communities", type=int, default=1_500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="also write the page here")
    args = parser.parse_args()

    print(f"machine: {machine()}")
    start = time.perf_counter()
    vmap = synthetic_map(args.n, args.k, args.communities, args.seed)
    built = time.perf_counter() - start
    start = time.perf_counter()
    page = render(vmap, "html")
    rendered = time.perf_counter() - start
    start = time.perf_counter()
    parquet = render(vmap, "parquet")
    parquet_s = time.perf_counter() - start
    print(
        f"map: {args.n:,} tokens, k={args.k}, {args.communities:,} communities (synthetic, seed {args.seed}, built in {built:.1f} s)"
    )
    print()
    verdict = "within" if len(page) <= SIZE_BUDGET else "OVER"
    print(
        f"page size: {len(page):,} bytes = {len(page) / 1e6:.2f} MB, {verdict} the 25 MB budget ({len(page) / SIZE_BUDGET:.0%}); rendered in {rendered:.1f} s"
    )
    for name, size in sorted(parts(page.decode("utf-8")).items(), key=lambda item: -item[1]):
        print(f"  {name:16s} {size:>12,} bytes")
    print(
        f"  neighbours cost {parts(page.decode('utf-8'))['map-neighbours'] / (args.n * args.k):.2f} bytes per (token, neighbour) pair in the page"
    )
    print(f"parquet: {len(parquet):,} bytes, rendered in {parquet_s:.1f} s")
    print()
    if CHROMIUM is None:
        print("no Chromium: skipping the browser figures")
        return

    with tempfile.TemporaryDirectory() as folder:
        path = Path(args.keep or Path(folder) / "map.html").resolve()
        path.write_bytes(page)
        row = int(args.n // 3)
        runs = [open_once(path, Path(folder) / f"run{i}", row, i == args.repeats - 1) for i in range(args.repeats)]
    drawn = [r["marks"]["map:drawn"] / 1000 for r in runs]
    wall = [r["wall"] for r in runs]
    verdict = "within" if statistics.median(drawn) <= READY_BUDGET_S else "OVER"
    print(f"WebGL: {runs[0]['renderer']}; points drawn: {runs[0]['points']}")
    print(
        f"navigation -> ready (every point drawn), median of {args.repeats}: {statistics.median(drawn):.2f} s, "
        f"{verdict} the 3 s budget; runs {', '.join(f'{d:.2f}' for d in drawn)} s"
    )
    print(
        f"  wall clock over the DevTools pipe: median {statistics.median(wall):.2f} s; runs {', '.join(f'{w:.2f}' for w in wall)} s"
    )
    steps = ["map:start", "map:unpacked", "map:setup", "map:drawn"]
    marks = runs[len(runs) // 2]["marks"]
    print(
        "  where the time goes (one run, ms since navigation): "
        + ", ".join(f"{s.split(':')[1]} {marks[s]:.0f}" for s in steps if s in marks)
    )
    print(
        f"  neighbours unpacked (clicks answered) at median {statistics.median(r['neighbours_ms'] for r in runs) / 1000:.2f} s"
    )
    print(frames("zoom (2 s camera flight)", runs[-1]["zoom"]))
    print(frames("pan (mouse drag)", runs[-1]["pan"]))
    print(f"machine after: load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
