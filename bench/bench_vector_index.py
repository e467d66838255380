"""Benchmark: Neo4j's vector index (approximate, HNSW) against the exact graph that `atlas load` stored.

    .venv/bin/python bench/bench_vector_index.py [--model all-MiniLM-L6-v2] [--k 20] [--sample N]
        [--candidates 21,50,100] [--latency 200] [--seed 0]

The model must be loaded with its vectors (`atlas load --vectors`, or `atlas vectors` later) in
the Neo4j of NEO4J_URI (NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE; the defaults of `atlas db start`).

1. Recall@k: for every token of the model (or a seeded sample of ``--sample`` tokens), the index
   is asked for C candidates with the token's own stored embedding (``db.index.vector.queryNodes``),
   the token itself is dropped and the first k answers are compared with its k stored SIMILAR_TO
   edges (``atlas.core.recall.recall_at_k``), for each C of ``--candidates``: mean, median, 5th and 1st
   percentile, minimum, the share of tokens found whole, the batched rate (tokens/s, 200 per
   query), and the worst tokens.
2. Query time per token, one query at a time over ``--latency`` sampled tokens (median and 95th
   percentile), side by side: the stored edges (`atlas neighbours`' statement), the index with
   each C, the exact answer in Cypher (``vector.similarity.cosine`` over every vectored token of
   the model; 5 tokens), and ``atlas near`` (numpy over the model's rows, exact; 5 tokens).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from neo4j_env import settings as connection_settings

from atlas.core.arithmetic import Term, describe
from atlas.core.recall import recall_at_k, without_self
from atlas.graph.store import Store
from atlas.settings import DEFAULT_MODEL
from atlas.views.expression import nearest_to

BATCH = 200  # tokens per batched index query
SLOW = 5  # tokens for the exact scans


def exact_neighbours(store: Store, model: str, ids: np.ndarray, k: int) -> np.ndarray:
    """(N, k) stored neighbour ids of ``ids``, best first, -1 padded."""
    out = np.full((len(ids), k), -1, dtype=np.int64)
    row = {int(i): n for n, i in enumerate(ids)}
    for start in range(0, len(ids), 5000):
        for r in store.read("neighbours_by_ids", model=model, ids=ids[start : start + 5000].tolist()):
            targets = r["targets"][:k]
            out[row[r["id"]], : len(targets)] = targets
    return out


def index_answers(store: Store, model: str, index: str, ids: np.ndarray, candidates: int) -> tuple[np.ndarray, float]:
    """(N, candidates) ids the index gives for each token's own embedding (itself included), -1 padded; and seconds."""
    out = np.full((len(ids), candidates), -1, dtype=np.int64)
    row = {int(i): n for n, i in enumerate(ids)}
    began = time.perf_counter()
    for start in range(0, len(ids), BATCH):
        for r in store.read(
            "vectors_query", model=model, index=index, ids=ids[start : start + BATCH].tolist(), k=candidates
        ):
            found = sorted(r["found"], key=lambda pair: (-pair[1], pair[0]))
            out[row[r["id"]], : len(found)] = [pair[0] for pair in found]
    return out, time.perf_counter() - began


def timed(run, tokens) -> list[float]:
    seconds = []
    for token in tokens:
        began = time.perf_counter()
        run(token)
        seconds.append(time.perf_counter() - began)
    return seconds


def ms(values: list[float]) -> str:
    median = statistics.median(values) * 1000
    p95 = float(np.percentile(values, 95)) * 1000
    return f"{median:9.1f} ms {p95:9.1f} ms  (n={len(values)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--sample", type=int, help="tokens to measure recall on (default: every token)")
    parser.add_argument("--candidates", default="21,50,100", help="answers asked of the index, comma-separated")
    parser.add_argument("--latency", type=int, default=200, help="tokens timed one query at a time")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    asks = [int(c) for c in args.candidates.split(",")]
    rng = np.random.default_rng(args.seed)

    with Store(connection_settings()) as store:
        props = store.require_model(args.model)
        if props.get("vectors") != "complete":
            sys.exit(f"model {args.model!r} has no vectors; store them first with `atlas vectors --model {args.model}`")
        k = min(args.k, int(props["k"]))
        index = props["vector_index"]
        (state,) = store.read("vectors_index_state", name=index)
        config = state["options"]["indexConfig"]
        tokens = store.read("tokens_all", model=args.model)
        all_ids = np.array([t["id"] for t in tokens], dtype=np.int64)
        ids = np.sort(rng.choice(all_ids, args.sample, replace=False)) if args.sample else all_ids
        texts = {r["id"]: r["text"] for r in store.read("tokens_by_id", model=args.model, ids=ids.tolist())}
        print(
            f"{args.model}: {len(all_ids):,} tokens x {props['dim']}, k={k}; index {index} "
            f"(HNSW m={config.get('vector.hnsw.m')}, ef_construction={config.get('vector.hnsw.ef_construction')}, "
            f"quantization {'on' if config.get('vector.quantization.enabled') else 'off'})"
        )
        if hasattr(os, "getloadavg"):
            print("load average: " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + " (the cores may be shared)")

        exact = exact_neighbours(store, args.model, ids, k)
        measured = exact[:, 0] >= 0  # zero rows have no neighbours and no vector
        print(f"\nrecall@{k} of the vector index against the stored exact graph ({int(measured.sum()):,} tokens)")
        print(
            f"{'candidates':>10}  {'mean':>6}  {'median':>6}  {'p5':>6}  {'p1':>6}  {'min':>6}  {'whole':>6}  {'tokens/s':>9}"
        )
        recalls = {}
        for ask in asks:
            found, seconds = index_answers(store, args.model, index, ids[measured], ask)
            recall = recall_at_k(exact[measured], without_self(found, ids[measured]), k)
            recalls[ask] = recall
            print(
                f"{ask:>10}  {np.nanmean(recall):6.4f}  {np.nanmedian(recall):6.4f}  {np.nanpercentile(recall, 5):6.4f}  "
                f"{np.nanpercentile(recall, 1):6.4f}  {np.nanmin(recall):6.4f}  {np.mean(recall == 1):6.1%}  "
                f"{measured.sum() / seconds:9,.0f}"
            )
        worst = np.argsort(recalls[asks[0]], kind="stable")[:10]
        print(f"\nworst tokens ({asks[0]} candidates): recall@{k}")
        for n in worst:
            token = int(ids[measured][n])
            print(f"  {recalls[asks[0]][n]:.2f}  {token:>7}  {texts[token]!r}")

        sample = rng.choice(ids[measured], min(args.latency, int(measured.sum())), replace=False).tolist()
        slow = sample[:SLOW]
        print("\nquery time per token, one query at a time")
        rows = [
            (
                "stored SIMILAR_TO edges (exact)",
                "1.0000",
                timed(lambda t: store.read("neighbours", model=args.model, id=t, k=k), sample),
            ),
        ]
        for ask in asks:
            rows.append(
                (
                    f"vector index, {ask} candidates",
                    f"{np.nanmean(recalls[ask]):.4f}",
                    timed(
                        lambda t, ask=ask: store.read("vectors_query", model=args.model, index=index, ids=[t], k=ask),
                        sample,
                    ),
                )
            )
        rows.append(
            (
                "vector.similarity.cosine, every token (exact)",
                "1.0000",
                timed(
                    lambda t: store.read("vectors_exact", model=args.model, label=props["vector_label"], id=t, k=k),
                    slow,
                ),
            )
        )
        rows.append(
            (
                "atlas near, numpy over the rows (exact)",
                "1.0000",
                timed(lambda t: nearest_to(store, args.model, describe([Term(1.0, texts[t], True, 1)]), k), slow),
            )
        )
        print(f"{'method':<48} {'recall@' + str(k):>9} {'median':>12} {'p95':>12}")
        for name, recall, seconds in rows:
            print(f"{name:<48} {recall:>9} {ms(seconds)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
