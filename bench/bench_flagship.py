"""Benchmark: the flagship at its real size, on the DeepSeek-R1-Distill-Qwen-1.5B stand-in (151,936 x 1536 bfloat16).

    .venv/bin/python bench/bench_flagship.py [--k 20] [--sample 15000] [--skip-float32] [--skip-neighbours] [--skip-neo4j] [--skip-map]

The stand-in (tests/qwen_standin.py: the real Qwen vocabulary, synthetic seeded vectors) is
built once into a cache folder. In one run, each figure beside its reference or target:

1. Neighbours: ours in float32 over the whole vocabulary against faiss ``IndexFlatIP``
   timed on ``--sample`` query rows against every row and extrapolated to all rows; ours in
   bfloat16, and its agreement with float32; peak memory of each (growth of the peak RSS in
   a fresh process) against ``peak_bytes()``'s bound.
2. Neo4j: a whole bfloat16 load (``--no-analysis``) under a bench-only name, stage by stage:
   the edge rate (target >= 100,000 edges/s), the whole load against the computation time
   (target <= 1.3x), the transaction log size after it; neighbour query latency (median and
   p95 over 200 random tokens, in the server); reading the stored graph back (target <= 10 s); the analysis of the stored model (target
   <= 90 s); the map file (target <= 25 MB); deleting the model (target <= 20 s) and the
   transaction logs after it.
3. Commands, while the stand-in is stored: ``atlas --help``, ``tokens``, ``prompt`` and ``neighbours`` as a user runs them
   (fresh processes, median of 5), on MiniLM and on the stand-in (targets 0.3 s, 1.0 s,
   1.0 s, 0.4 s).

Needs a running Neo4j (``atlas db start``) for 2 and 3 and the ``bench`` extra (faiss-cpu).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from bench_neighbours import agreement, machine_facts, spans, stage_clock, verdict  # noqa: E402

BENCH_MODEL = "bench-qwen-standin"
TARGETS = {
    "edges_per_s": 100_000,
    "load_over_compute": 1.3,
    "delete_s": 20.0,
    "analysis_s": 90.0,
    "map_mb": 25.0,
    "read_s": 10.0,
}
BEFORE = {
    "analysis_s": 190.1,
    "communities": 1390,
    "modularity": 0.971,
    "read_s": 40.0,
}  # the README's figures before issue 18
RETENTION = 1 << 30  # db.tx_log.rotation.retention_policy of the local server (atlas/neo4j/neo4j.conf)
CHECKPOINT_S = 60  # its db.checkpoint.interval.time: logs are pruned at checkpoints
COMMAND_TARGETS = {"--help": 0.3, "tokens": 1.0, "prompt": 1.0, "neighbours": 0.4}

CHILD = """
import json, sys, time
import numpy as np
sys.path.insert(0, sys.argv[4])
from bench_neighbours import memory_baseline, memory_peak
from atlas.core.topk import all_neighbours
import torch  # imported before the baseline: its libraries are not the computation's memory
matrix = np.load(sys.argv[1], mmap_mode="r")
matrix = np.ascontiguousarray(matrix)
base = memory_baseline()
began = time.perf_counter()
ids, _ = all_neighbours(matrix, int(sys.argv[2]), dtype=sys.argv[3])
seconds = time.perf_counter() - began
np.save(sys.argv[5], ids)
print(json.dumps({"seconds": seconds, "grew": memory_peak() - base}))
"""


def stand_in() -> tuple[str, float]:
    import qwen_standin

    began = time.perf_counter()
    folder = qwen_standin.standin_folder()
    return str(folder), time.perf_counter() - began


def neighbours_section(matrix: np.ndarray, k: int, sample: int, skip_float32: bool) -> tuple[list[str], float | None]:
    """Ours (float32, bfloat16) in fresh processes against faiss on a sample; returns lines and bfloat16's seconds."""
    from atlas.core.topk import peak_bytes

    v, d = matrix.shape
    lines = [f"Neighbours of {v:,} x {d}, k={k}"]
    rng = np.random.default_rng(0)
    rows = np.sort(rng.choice(v, size=min(sample, v), replace=False))
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "matrix.npy")
        np.save(path, matrix)
        for dtype in ("bfloat16",) + (() if skip_float32 else ("float32",)):
            out = os.path.join(tmp, f"{dtype}.npy")
            done = subprocess.run(
                [sys.executable, "-c", CHILD, path, str(k), dtype, str(HERE), out],
                capture_output=True,
                text=True,
                check=True,
            )
            results[dtype] = json.loads(done.stdout.strip().splitlines()[-1]) | {"ids": np.load(out)}
            print(f"  ours {dtype}: {results[dtype]['seconds']:.1f} s", file=sys.stderr, flush=True)
    began = time.perf_counter()
    exact_sample = _faiss_sample(matrix, rows, k)
    faiss_s = (time.perf_counter() - began) * v / len(rows)
    lines.append(
        f"{'':22} {'seconds':>9} {'/ faiss':>8} {'agree faiss':>12} {'agree f32':>10} {'peak RSS +MB':>13} {'bound MB':>9}"
    )
    lines.append(
        f"{'faiss IndexFlatIP':22} {faiss_s:9.1f} {1.0:8.2f} {'':>12} {'':>10} {'':>13} {'':>9}"
        f"   ({len(rows):,} query rows timed, x{v / len(rows):.1f})"
    )
    bound = {"float32": peak_bytes(v, d, 1024, k), "bfloat16": peak_bytes(v, d, 1024, k) + 12 * v * (k + k // 4 + 4)}
    for dtype in ("float32", "bfloat16"):
        if dtype not in results:
            continue
        r = results[dtype]
        versus_faiss = agreement(r["ids"][rows], exact_sample)
        versus_f32 = agreement(r["ids"], results["float32"]["ids"]) if "float32" in results else float("nan")
        lines.append(
            f"{'ours ' + dtype:22} {r['seconds']:9.1f} {r['seconds'] / faiss_s:8.2f} {versus_faiss:12.4f} "
            f"{versus_f32:10.4f} {r['grew'] / 1e6:13.0f} {bound[dtype] / 1e6:9.0f}"
        )
    return lines, results["bfloat16"]["seconds"]


def _faiss_sample(matrix: np.ndarray, rows: np.ndarray, k: int) -> np.ndarray:
    import faiss

    unit = np.array(matrix, dtype=np.float32, copy=True)
    faiss.normalize_L2(unit)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    _, found = index.search(unit[rows], k + 1)
    is_self = found == rows[:, None]
    is_self[~is_self.any(axis=1), k] = True
    return found[~is_self].reshape(len(rows), k)


def txlog_bytes(settings) -> int | None:
    """Size of the local server's transaction logs of the neo4j database, when it is the local server."""
    from atlas.settings import default_home

    folder = Path(os.environ.get("ATLAS_NEO4J_HOME") or default_home()) / "data" / "transactions" / "neo4j"
    if not folder.is_dir():
        return None
    return sum(f.stat().st_size for f in folder.iterdir() if f.is_file())


def neo4j_section(folder: str, k: int, compute_s: float | None, skip_map: bool) -> list[str]:
    from neo4j_env import settings

    from atlas.core.analysis import preservation
    from atlas.graph.store import Store
    from atlas.loaders import load_embedding_table
    from atlas.loaders.analyse import analyse_stored
    from atlas.loaders.pipeline import load
    from atlas.pages.map_page import render
    from atlas.settings import DEFAULT_MODEL
    from atlas.views.vocabulary import read_map

    config = settings()
    store = Store(config)
    stages, progress = stage_clock()

    from atlas.core.topk import choose_dtype, resolve_device

    choice = choose_dtype("bfloat16", resolve_device("auto"))  # float32 where bfloat16 would be slower
    lines = [f"Neo4j {config.uri}: a --dtype bfloat16 load as {BENCH_MODEL!r} (deleted at the end); {choice.reason}"]
    try:
        if store.model(BENCH_MODEL) is not None:
            store.delete_model(BENCH_MODEL)
        logs_before = txlog_bytes(config)
        table = load_embedding_table(folder, name=BENCH_MODEL)
        began = time.perf_counter()
        report = load(store, table, k, dtype=choice.dtype, device=resolve_device("auto"), on_progress=progress)
        loaded = time.perf_counter()
        load_s = loaded - began
        took = spans(stages, began)
        edges_per_s = report.edges / took["edges"]
        rates = {"tokens": report.tokens, "edges": report.edges}
        for stage, seconds in took.items():
            rate = f"{rates[stage] / seconds:12,.0f}/s" if stage in rates else ""
            lines.append(f"  {stage:22} {seconds:8.1f} s {rate}")
        lines.append(
            f"  edge rate {edges_per_s:,.0f} edges/s for {report.edges:,} edges "
            f"(target >= {TARGETS['edges_per_s']:,}: {verdict(edges_per_s >= TARGETS['edges_per_s'])})"
        )
        ratio = load_s / took["neighbours"]
        lines.append(
            f"  whole load {load_s:.1f} s = {ratio:.2f} x its computation ({took['neighbours']:.1f} s) "
            f"(target <= {TARGETS['load_over_compute']}: {verdict(ratio <= TARGETS['load_over_compute'])})"
        )
        logs = txlog_bytes(config)
        if logs is not None:
            lines.append(f"  transaction logs: {_mb(logs_before)} before, {_mb(logs)} after the load")
        lines += latency(store, BENCH_MODEL, table.ids)

        from atlas.graph.stored_graph import read_graph

        began = time.perf_counter()
        edges = int((read_graph(store, BENCH_MODEL).neighbours >= 0).sum())
        read_s = time.perf_counter() - began
        lines.append(
            f"  reading the stored graph back ({edges:,} edges): {read_s:.1f} s (before issue 18: about {BEFORE['read_s']:.0f} s; "
            f"target <= {TARGETS['read_s']:.0f} s: {verdict(read_s <= TARGETS['read_s'])})"
        )
        began = time.perf_counter()
        analysed = analyse_stored(store, BENCH_MODEL)
        analysis_s = time.perf_counter() - began
        lines.append(
            f"  analysis {analysis_s:.1f} s: {analysed.communities:,} communities, modularity {analysed.modularity:.3f}, "
            f"in-degree skewness {analysed.cited_skewness:.2f} (before issue 18: {BEFORE['analysis_s']:.1f} s, "
            f"{BEFORE['communities']:,} communities, modularity {BEFORE['modularity']:.3f}; target <= {TARGETS['analysis_s']:.0f} s: "
            f"{verdict(analysis_s <= TARGETS['analysis_s'])})"
        )
        if not skip_map:
            began = time.perf_counter()
            vmap = read_map(store, BENCH_MODEL)
            page = render(vmap, "html")
            lines.append(
                f"  map: {len(page) / 1e6:.1f} MB page for {len(vmap.ids):,} tokens in {time.perf_counter() - began:.1f} s "
                f"(target <= {TARGETS['map_mb']:.0f} MB: {verdict(len(page) / 1e6 <= TARGETS['map_mb'])}); "
                f"layout keeps {preservation(vmap.neighbours, np.stack([vmap.x, vmap.y], 1)):.3f} of each token's "
                f"{k} nearest among its {k} nearest on the map"
            )
        lines += commands_section(
            {"MiniLM": DEFAULT_MODEL, "stand-in": BENCH_MODEL}
            if store.model(DEFAULT_MODEL)
            else {"stand-in": BENCH_MODEL}
        )
        logs = txlog_bytes(config)
        if logs is not None:
            lines.append(
                f"  transaction logs {(time.perf_counter() - loaded) / 60:.0f} min after the load: {_mb(logs)} "
                f"(retention {RETENTION / 1e6:,.0f} MB plus the open file)"
            )
        began = time.perf_counter()
        store.delete_model(BENCH_MODEL)
        delete_s = time.perf_counter() - began
        lines.append(
            f"  delete {delete_s:.1f} s (target <= {TARGETS['delete_s']:.0f} s: {verdict(delete_s <= TARGETS['delete_s'])})"
        )
        logs = txlog_bytes(config)
        if logs is not None:
            time.sleep(CHECKPOINT_S + 5)  # logs are pruned at the next checkpoint
            lines.append(
                f"  transaction logs after the delete: {_mb(logs)}; {CHECKPOINT_S + 5} s later: {_mb(txlog_bytes(config))}"
            )
    finally:
        if store.model(BENCH_MODEL) is not None:
            store.delete_model(BENCH_MODEL)
        store.close()
    return lines


def _mb(size: int | None) -> str:
    return "?" if size is None else f"{size / 1e6:,.0f} MB"


def latency(store, model: str, ids: np.ndarray, n: int = 200) -> list[str]:
    """Median and p95 of the neighbour query of ``n`` random tokens, as the server reports (and round trip)."""
    from atlas.graph.queries import query

    rng = np.random.default_rng(1)
    server, round_trip = [], []
    for token in rng.choice(ids, size=n, replace=False).tolist():
        began = time.perf_counter()
        _records, summary, _ = store.driver.execute_query(
            query("neighbours"), {"model": model, "id": int(token), "k": 20}, database_=store.database
        )
        round_trip.append(time.perf_counter() - began)
        server.append((summary.result_available_after + summary.result_consumed_after) / 1000)
    return [
        f"  neighbour query over {n} random tokens: server median {statistics.median(server) * 1000:.1f} ms, "
        f"p95 {np.percentile(server, 95) * 1000:.1f} ms; round trip median {statistics.median(round_trip) * 1000:.1f} ms, "
        f"p95 {np.percentile(round_trip, 95) * 1000:.1f} ms"
    ]


def commands_section(models: dict[str, str]) -> list[str]:
    """Wall time of each fast command in fresh processes, median of 5, per stored model."""
    script = Path(sys.executable).with_name("atlas")  # the console script a user runs
    atlas = [str(script)] if script.exists() else [sys.executable, "-c", "from atlas.cli import main; main()"]
    lines = ["  commands (fresh processes, median of 5 wall-clock runs; MiniLM only when it is stored)"]
    lines.append(f"  {'':28} " + " ".join(f"{name:>14}" for name in COMMAND_TARGETS))
    for label, model in models.items():
        cells = []
        for name, target in COMMAND_TARGETS.items():
            args = {
                "--help": ["--help"],
                "tokens": ["tokens", "HTML coders are not considered programmers", "--model", model],
                "prompt": ["prompt", "HTML coders are not considered programmers", "--model", model, "--k", "5"],
                "neighbours": ["neighbours", "list", "--model", model],
            }[name]
            runs = []
            for _ in range(5):
                began = time.perf_counter()
                subprocess.run(atlas + args, capture_output=True, check=True)
                runs.append(time.perf_counter() - began)
            seconds = statistics.median(runs)
            cells.append(f"{seconds:5.2f} s {'ok' if seconds <= target else 'SLOW':>4}")
        lines.append(f"  {label:28} " + " ".join(f"{c:>14}" for c in cells))
    lines.append("    targets: " + ", ".join(f"{n} <= {t} s" for n, t in COMMAND_TARGETS.items()))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--sample", type=int, default=15_000, help="faiss query rows timed and extrapolated")
    parser.add_argument("--skip-float32", action="store_true", help="skip our float32 run (about 4 minutes here)")
    parser.add_argument(
        "--skip-neighbours", action="store_true", help="skip part 1 (ours against faiss, about 12 minutes here)"
    )
    parser.add_argument("--skip-neo4j", action="store_true")
    parser.add_argument("--skip-map", action="store_true")
    args = parser.parse_args()
    from atlas.loaders import load_embedding_table

    print("\n".join(machine_facts()), flush=True)
    folder, built = stand_in()
    began = time.perf_counter()
    table = load_embedding_table(folder)
    print(
        f"stand-in {folder} (ready in {built:.1f} s), read in {time.perf_counter() - began:.1f} s: "
        f"{len(table):,} tokens x {table.dim}, {table.matrix_rows:,} matrix rows\n",
        flush=True,
    )
    if not args.skip_neighbours:
        lines, _ = neighbours_section(table.matrix, args.k, args.sample, args.skip_float32)
        print("\n".join(lines) + "\n", flush=True)
    del table
    if not args.skip_neo4j:
        print("\n".join(neo4j_section(folder, args.k, None, args.skip_map)) + "\n", flush=True)
    if hasattr(os, "getloadavg"):
        print("load average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
