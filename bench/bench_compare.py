"""`atlas compare` at MiniLM's size: the whole bundled all-MiniLM-L6-v2 against a second MiniLM-sized model.

    .venv/bin/python bench/bench_compare.py [--k 20] [--repeats 2] [--scale 0.3]

Stores MiniLM (30,522 tokens, k neighbours, no analysis) under a fresh name ``bench-compare-...``,
and the same tokenizer with a seeded perturbation of the matrix (``--scale`` times the matrix's
standard deviation, a stand-in for one of its layers) under another; then times
``Atlas.compare`` (read both graphs back, match, overlaps, write 30,522 SAME_TOKEN links and the
Comparison node) ``--repeats`` times, each stage on its own from the progress callback, and
prints the figures. Both models are deleted at the end. Neo4j is found as the CLI finds it
(NEO4J_URI etc., else the local server and its password file). Target: at most 30 s.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from dataclasses import replace

import numpy as np
from neo4j_env import atlas as neo4j_atlas

from atlas.files.model_files import default_source
from atlas.loaders import load_embedding_table
from atlas.loaders.pipeline import load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--scale", type=float, default=0.3)
    args = parser.parse_args()
    tag = uuid.uuid4().hex[:8]
    a = load_embedding_table(default_source(), name=f"bench-compare-a-{tag}")
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(a.matrix.shape).astype(np.float32) * a.matrix.std() * args.scale
    b = replace(a, name=f"bench-compare-b-{tag}", matrix=a.matrix + noise)
    print(f"cores {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    with neo4j_atlas() as atlas:
        try:
            for table in (a, b):
                began = time.perf_counter()
                load(atlas.store, table, args.k)
                print(f"stored {table.name}: {len(table):,} tokens, k={args.k} in {time.perf_counter() - began:.1f} s")
            for run in range(args.repeats):
                stages: dict[str, float] = {}
                last = [time.perf_counter()]

                def progress(stage: str, n: int, total: int, stages=stages, last=last) -> None:
                    now = time.perf_counter()
                    stages[stage] = stages.get(stage, 0.0) + now - last[0]
                    last[0] = now

                began = time.perf_counter()
                found = atlas.compare(a.name, b.name, k=args.k, on_progress=progress)
                seconds = time.perf_counter() - began
                f = found.figures
                print(
                    f"run {run + 1}: compare {seconds:.1f} s (target <= 30 s; read {stages.get('read', 0):.1f} s, "
                    f"match + overlaps + write {stages.get('write', 0):.1f} s); {f['matched']:,} matched by "
                    f"{'id' if f['matched_by_id'] else 'text'}, mean Jaccard {f['mean_jaccard']:.3f}, "
                    f"mean RBO {f['mean_rbo']:.3f}; load average {os.getloadavg()[0]:.2f}"
                )
        finally:
            for table in (a, b):
                atlas.store.delete_model(table.name)


if __name__ == "__main__":
    main()
