"""Benchmark: exact neighbours against faiss, and a whole MiniLM load into Neo4j.

    .venv/bin/python bench/bench_neighbours.py [--repeats 3] [--k 20] [--skip-neo4j]

1. faiss ``IndexFlatIP`` (normalised rows, search k+1, drop self) against ``all_neighbours``
   in float32 and bfloat16 on the bundled all-MiniLM-L6-v2 matrix, beside the CPU's capability and
   bfloat16 instructions and the dtype a load would use on it (bfloat16 is slow without
   avx512_bf16/amx_bf16: on an AVX2-only EPYC, 19x float32's time). The three run
   interleaved in this process (order rotated every repeat, after one warm-up run each);
   the table gives the median seconds, the ratio to faiss, the top-k agreement (mean
   fraction of ids a row shares with faiss and with float32) and the peak memory of each,
   measured in a fresh subprocess as the growth of its peak RSS (``VmHWM``, reset after
   the imports and the matrix load) over its RSS then, next to ``peak_bytes()``'s bound.
2. Neo4j: ``loaders.pipeline.load`` of the same model at the given k under the model name
   ``bench-minilm`` (deleted afterwards), timed from reading the model to the end of the
   load: total seconds and each stage's seconds end to end (neighbours, tokens, variants,
   edges, verify), with tokens/s for the token stage and edges/s for the edge stage.

Needs the ``bench`` extra (faiss-cpu, threadpoolctl): ``pip install -e '.[bench]'``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def fair_blas_core() -> str | None:
    """The OpenBLAS core type to force so faiss's own OpenBLAS uses this CPU's vector units.

    faiss-cpu's wheel bundles OpenBLAS 0.3.15, which does not recognise recent virtualised
    Xeons and falls back to its Prescott (SSE3) kernels: a 5x slower reference than faiss
    really is. OPENBLAS_CORETYPE picks the kernels by the CPU's flags instead; it must be
    set before faiss is imported and a value already in the environment is kept.
    """
    if os.environ.get("OPENBLAS_CORETYPE") or not Path("/proc/cpuinfo").exists():
        return os.environ.get("OPENBLAS_CORETYPE")
    flags = next(
        (
            line.split(":", 1)[1].split()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("flags")
        ),
        [],
    )
    core = "SkylakeX" if "avx512f" in flags else "Haswell" if "avx2" in flags else None
    if core is not None:
        os.environ["OPENBLAS_CORETYPE"] = core
    return core


fair_blas_core()  # before any import of faiss, here and in the subprocesses that import this module

BENCH_MODEL = "bench-minilm"
VARIANTS = ("faiss", "float32", "bfloat16")
LABELS = {"faiss": "faiss IndexFlatIP", "float32": "ours float32", "bfloat16": "ours bfloat16"}  # really computed so
TARGETS = {"total_s": 90.0, "edges_per_s": 50_000.0}

CHILD = """
import json, sys
import numpy as np
variant, path, k = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, sys.argv[4])
from bench_neighbours import import_for, memory_baseline, memory_peak, run_variant
import_for(variant)
matrix = np.load(path)
base = memory_baseline()
run_variant(variant, matrix, k)
print(json.dumps({"grew": memory_peak() - base}))
"""


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def memory_baseline() -> int:
    """Bytes to measure growth from: resets the peak-RSS mark (Linux) and returns current RSS.

    ``ru_maxrss`` cannot serve in a child process: Linux carries the parent's high-water
    mark through fork and exec, so a child of a big parent starts with its peak.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")  # 5: reset the peak RSS (VmHWM) to the current RSS
        return _status_kib("VmRSS") * 1024
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def memory_peak() -> int:
    try:
        return _status_kib("VmHWM") * 1024
    except OSError:
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def import_for(variant: str) -> None:
    """Import what a variant needs, so that a memory baseline taken afterwards leaves imports out."""
    import atlas.core.topk  # noqa: F401

    if variant == "faiss":
        import faiss  # noqa: F401
    if variant == "bfloat16":
        import torch  # noqa: F401


def faiss_neighbours(matrix: np.ndarray, k: int) -> np.ndarray:
    """faiss's exact inner-product search on L2-normalised rows: (V, k) ids, self dropped."""
    import faiss

    unit = np.array(matrix, dtype=np.float32, copy=True)
    faiss.normalize_L2(unit)
    index = faiss.IndexFlatIP(unit.shape[1])
    index.add(unit)
    _, found = index.search(unit, k + 1)  # (V, k + 1), normally self first
    is_self = found == np.arange(len(unit))[:, None]
    is_self[~is_self.any(axis=1), k] = True  # self not returned (ties): drop the last instead
    return found[~is_self].reshape(len(unit), k)


def run_variant(variant: str, matrix: np.ndarray, k: int) -> np.ndarray:
    if variant == "faiss":
        return faiss_neighbours(matrix, k)
    from atlas.core.topk import all_neighbours

    return all_neighbours(matrix, k, dtype=variant)[0]


def agreement(a: np.ndarray, b: np.ndarray) -> float:
    """Mean fraction of a row's k ids that the other list also has."""
    shared = (a[:, :, None] == b[:, None, :]).any(axis=2).sum(axis=1)
    return float(np.mean(shared / a.shape[1]))


def machine_facts() -> list[str]:
    import faiss
    import torch
    from threadpoolctl import threadpool_info

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    model = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").exists():
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        names = [line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")]
        model = names[0] if names else model
    lines = [f"cpu: {model}, {cores} cores usable, Python {platform.python_version()}, numpy {np.__version__}"]
    for pool in threadpool_info():
        lib = Path(pool["filepath"]).name
        arch = f", {pool['architecture']}" if pool.get("architecture") else ""
        version = f" {pool['version']}" if pool.get("version") else ""
        owner = next((p for p in ("numpy", "faiss", "torch") if p in pool["filepath"]), "?")
        threads = f"{pool['num_threads']} threads ({owner}: {lib})"
        lines.append(f"{pool['user_api']}: {pool['internal_api']}{version}{arch}, {threads}")
    lines.append(
        f"torch {torch.__version__}: {torch.get_num_threads()} threads; faiss {faiss.__version__}; "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )
    if hasattr(os, "getloadavg"):
        lines.append("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (the cores may be shared)")
    return lines


def bfloat16_facts() -> list[str]:
    """What the bfloat16 figures describe: the CPU's capability and the dtype a load would use on it."""
    import torch

    from atlas.core.topk import BF16_CPU_FLAGS, choose_dtype, cpu_flags

    have = sorted(set(BF16_CPU_FLAGS) & cpu_flags())
    auto, asked = choose_dtype("auto", "cpu"), choose_dtype("bfloat16", "cpu")
    return [
        f"CPU capability (torch.backends.cpu.get_cpu_capability): {torch.backends.cpu.get_cpu_capability()}; "
        f"bfloat16 instructions: {', '.join(have) or 'none (' + ' and '.join(BF16_CPU_FLAGS) + ' absent)'}",
        f"the rows below compute in the dtype they name; a load on this CPU computes in {auto.dtype} with "
        f"--dtype auto and in {asked.dtype} with --dtype bfloat16",
    ]


def time_variants(matrix: np.ndarray, k: int, repeats: int) -> tuple[dict[str, list[float]], dict[str, np.ndarray]]:
    """Seconds of every run of every variant, interleaved; and each variant's ids."""
    ids = {v: run_variant(v, matrix, k) for v in VARIANTS}  # warm-up: imports, thread pools
    seconds: dict[str, list[float]] = {v: [] for v in VARIANTS}
    for r in range(repeats):
        order = VARIANTS[r % 3 :] + VARIANTS[: r % 3]
        for variant in order:
            began = time.perf_counter()
            ids[variant] = run_variant(variant, matrix, k)
            seconds[variant].append(time.perf_counter() - began)
        print(f"  repeat {r + 1}: " + ", ".join(f"{v} {seconds[v][-1]:.2f} s" for v in VARIANTS), file=sys.stderr)
    return seconds, ids


def peak_memory(matrix: np.ndarray, k: int) -> dict[str, int]:
    """Each variant's growth of peak RSS in bytes, measured in a fresh interpreter."""
    grew = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "matrix.npy")
        np.save(path, matrix)
        for variant in VARIANTS:
            out = subprocess.run(
                [sys.executable, "-c", CHILD, variant, path, str(k), str(Path(__file__).parent)],
                capture_output=True,
                text=True,
                check=True,
            )
            grew[variant] = json.loads(out.stdout.strip().splitlines()[-1])["grew"]
    return grew


def neighbour_table(matrix: np.ndarray, k: int, repeats: int) -> list[str]:
    from atlas.core.topk import peak_bytes

    v, d = matrix.shape
    seconds, ids = time_variants(matrix, k, repeats)
    grew = peak_memory(matrix, k)
    median = {name: statistics.median(runs) for name, runs in seconds.items()}
    candidates = k + k // 4 + 4
    bound = {
        "faiss": None,
        "float32": peak_bytes(v, d, 1024, k),
        "bfloat16": peak_bytes(v, d, 1024, k) + 12 * v * candidates,
    }
    head = (
        f"{'':18} {'median s':>9} {'/ faiss':>8} {'agree faiss':>12} {'agree f32':>10} "
        f"{'peak RSS +MB':>13} {'bound MB':>9}   runs (s)"
    )
    rows = [
        *bfloat16_facts(),
        f"{v:,} x {d} matrix, k={k}, {repeats} interleaved repeats. Peak RSS: growth of VmHWM in a fresh",
        "process over its RSS after imports and matrix load (the mark reset there).",
        "Bound: peak_bytes(V, d, 1024, k), + 12 * V * (k + k // 4 + 4) for bfloat16's candidates.",
        head,
    ]
    for name in VARIANTS:
        limit = f"{bound[name] / 1e6:9.0f}" if bound[name] else f"{'-':>9}"
        rows.append(
            f"{LABELS[name]:18} {median[name]:9.2f} {median[name] / median['faiss']:8.2f} "
            f"{agreement(ids[name], ids['faiss']):12.4f} {agreement(ids[name], ids['float32']):10.4f} "
            f"{grew[name] / 1e6:13.0f} {limit}   " + " ".join(f"{s:.2f}" for s in seconds[name])
        )
    f32, bf16 = median["float32"] / median["faiss"], median["bfloat16"] / median["faiss"]
    bf16_agree = agreement(ids["bfloat16"], ids["float32"])
    rows.append(
        f"float32 / faiss {f32:.2f} (target <= 1.0: {verdict(f32 <= 1.0)}); bfloat16 / faiss {bf16:.2f} "
        f"(aim <= 0.5: {verdict(bf16 <= 0.5)}), agreeing with float32 on {bf16_agree:.4f} "
        f"(>= 0.99: {verdict(bf16_agree >= 0.99)})"
    )
    return rows


def verdict(ok: bool) -> str:
    return "met" if ok else "MISSED"


def stage_clock():
    """A ``progress(stage, done, total)`` callback for the pipeline and what it saw: stage -> [first, last, items]."""
    stages: dict[str, list[float]] = {}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        seen = stages.setdefault(stage, [now, now, 0])
        seen[1], seen[2] = now, seen[2] + done

    return stages, progress


def spans(stages: dict[str, list[float]], began: float) -> dict[str, float]:
    """Each stage's seconds, in the order the stages started.

    Every stage reports 0 items as it starts and then after each batch: it lasts from its first
    report to its last. A stage that only says it starts (the analysis's hubs, communities and
    layout) lasts until the next stage starts. ``began`` is when the first stage was started.
    """
    order = sorted(stages, key=lambda s: stages[s][0])
    out = {}
    for i, stage in enumerate(order):
        first, last, items = stages[stage]
        start = began if i == 0 else first
        if items == 0 and i + 1 < len(order):
            last = stages[order[i + 1]][0]
        out[stage] = last - start
    return out


def neo4j_load(k: int, first_read: float) -> list[str]:
    """One whole load of MiniLM into the running Neo4j under a bench-only name, then its deletion.

    ``first_read`` is how long this process took to read the model the first time (imports
    included); the load reads it again, as ``atlas load`` would.
    """
    from neo4j_env import settings

    from atlas.errors import AtlasError
    from atlas.files.model_files import default_source
    from atlas.graph.store import Store
    from atlas.loaders import load_embedding_table
    from atlas.loaders.pipeline import load

    try:
        config = settings()
        store = Store(config)
    except AtlasError as exc:
        return [f"Neo4j skipped: {exc}"]
    stages, progress = stage_clock()
    try:
        began = time.perf_counter()
        table = load_embedding_table(default_source(), name=BENCH_MODEL)
        read = time.perf_counter()
        report = load(store, table, k, replace=True, on_progress=progress)
        ended = time.perf_counter()
    finally:
        if store.model(BENCH_MODEL) is not None:
            store.delete_model(BENCH_MODEL)
        store.close()
    took = spans(stages, read)
    edges_per_s = report.edges / took["edges"]
    total = ended - began
    lines = [
        f"Neo4j {config.uri}: load of {report.tokens:,} tokens, {report.edges:,} edges (k={k}) "
        f"as {BENCH_MODEL!r}, deleted afterwards",
        f"{'model read':24} {read - began:7.1f} s  (first read in this process, imports included: {first_read:.1f} s)",
    ]
    counts = {
        "tokens": f"{report.tokens / took['tokens']:10,.0f} tokens/s",
        "variants": f"{report.variants:10,} tokens in groups",
        "edges": f"{edges_per_s:10,.0f} edges/s   "
        f"(target >= {TARGETS['edges_per_s']:,.0f}: {verdict(edges_per_s >= TARGETS['edges_per_s'])})",
    }
    lines += [f"{stage:24} {seconds:7.1f} s  {counts.get(stage, '')}".rstrip() for stage, seconds in took.items()]
    lines.append(
        f"{'total':24} {total:7.1f} s  (target < {TARGETS['total_s']:.0f} s: {verdict(total < TARGETS['total_s'])})"
    )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each variant (median reported)")
    parser.add_argument("--k", type=int, default=20, help="neighbours per row")
    parser.add_argument("--skip-neo4j", action="store_true", help="only the neighbour benchmark")
    args = parser.parse_args()
    try:
        import faiss  # noqa: F401
        import threadpoolctl  # noqa: F401
    except ImportError as exc:
        sys.exit(f"{exc.name} is missing: install the bench extra with `pip install -e '.[bench]'`")
    from atlas.files.model_files import default_source
    from atlas.loaders import load_embedding_table

    print("\n".join(machine_facts()), flush=True)
    began = time.perf_counter()
    matrix = load_embedding_table(default_source()).matrix
    first_read = time.perf_counter() - began
    print()
    print("\n".join(neighbour_table(matrix, args.k, args.repeats)), flush=True)
    if not args.skip_neo4j:
        print()
        print("\n".join(neo4j_load(args.k, first_read)), flush=True)
    if hasattr(os, "getloadavg"):
        print("\nload average at the end: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
