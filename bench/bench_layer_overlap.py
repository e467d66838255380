"""Benchmark: MiniLM's layer atlases against its static atlas, the curve of how each token's neighbours change with depth.

    .venv/bin/python bench/bench_layer_overlap.py [--k 20] [--keep]

Against a running Neo4j (``atlas db start``) holding the static all-MiniLM-L6-v2 (``atlas
load``): stores the seven layer atlases of the bundled MiniLM (``Atlas.load_layers("all")``,
each analysed) under the bench-only name ``bench-layers@L``, then ``Atlas.compare`` of the
static model with each layer. Prints, per layer: the mean Jaccard and rank-biased overlap of
each token's ``k`` nearest with its ``k`` nearest in the static atlas, the share of static
communities' members that stay together, and the time of each compare against its target (at
most 30 s for MiniLM against one of its layers); and the time of the states of all seven layers
(target: at most 60 s). The layer atlases are deleted at the end unless ``--keep``.
"""

from __future__ import annotations

import argparse
import time

from neo4j_env import atlas as neo4j_atlas

STATIC = "all-MiniLM-L6-v2"
NAME = "bench-layers"
COMPARE_TARGET_S = 30.0
STATES_TARGET_S = 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--keep", action="store_true", help="keep the layer atlases in Neo4j")
    args = parser.parse_args()

    with neo4j_atlas() as atlas:
        if atlas.store.model(STATIC) is None:
            raise SystemExit(f"{STATIC} is not stored: run `atlas load` first")
        stages: dict[str, float] = {}
        last = {"stage": None, "at": time.perf_counter()}

        def progress(stage: str, n: int, total: int) -> None:
            now = time.perf_counter()
            if last["stage"] is not None:
                stages[last["stage"]] = stages.get(last["stage"], 0.0) + now - last["at"]
            last["stage"], last["at"] = stage, now

        began = time.perf_counter()
        loaded = atlas.load_layers("all", name=NAME, k=args.k, replace=True, on_progress=progress)
        progress("end", 0, 0)
        stored = time.perf_counter() - began
        states = stages.get("layer states", float("nan"))
        rows = []
        try:
            for item in loaded:
                name = item.report.name
                began = time.perf_counter()
                found = atlas.compare(STATIC, name, k=args.k)
                took = time.perf_counter() - began
                f = found.figures
                rows.append((name, f["mean_jaccard"], f["mean_rbo"], f.get("held_together"), took))
        finally:
            if not args.keep:
                for item in loaded:
                    atlas.delete(item.report.name)

    print(f"MiniLM's seven layer atlases ({STATIC}, k={args.k}): stored and analysed in {stored:.1f} s")
    print(
        f"  the states of all 30,522 tokens at layers 0..6: {states:.1f} s "
        f"(target <= {STATES_TARGET_S:.0f} s: {'met' if states <= STATES_TARGET_S else 'missed'})"
    )
    print(f"\neach token's {args.k} nearest in the layer atlas against its {args.k} nearest in the static atlas:")
    print(f"{'model':<22} {'Jaccard':>8} {'RBO':>8} {'held together':>14} {'compare':>9}")
    for name, jaccard, rbo, together, took in rows:
        held = "-" if together is None else f"{together:.1%}"
        print(f"{name:<22} {jaccard:>8.3f} {rbo:>8.3f} {held:>14} {took:>8.1f}s")
    slowest = max(r[4] for r in rows)
    print(
        f"slowest compare {slowest:.1f} s (target <= {COMPARE_TARGET_S:.0f} s: "
        f"{'met' if slowest <= COMPARE_TARGET_S else 'missed'})"
    )


if __name__ == "__main__":
    main()
