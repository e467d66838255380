"""Time of `atlas context` per sentence, after the model is read, and peak memory: on the bundled MiniLM (6 layers
x 384, 30,522 tokens) and on the Qwen stand-in with full-size random decoder layers (28 layers x 1536, 151,665 tokens,
Qwen2-1.5B's config; tests/qwen_standin.py `whole_standin_folder`, built once into ~/.cache/token-atlas).

Each size runs in a child process so its peak memory (ru_maxrss) is its own. The work per sentence is the forward
pass, the exact ranking of every reported state against the whole vocabulary (all layers, k=8) and, with two or
more sentences sharing the word, their comparison. Prints one line per size.

    .venv/bin/python bench/bench_context.py [--skip-full]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))

SENTENCES = (
    "we sat on the river bank and watched the water",
    "the bank robbery was on the news",
    "she deposited money at the bank",
)
ROUNDS = 3


def measure(source: str, device: str) -> dict:
    """Read the model, then time each sentence alone (every token, all layers) and the three sharing "bank"."""
    from atlas.files.text_states import open_model
    from atlas.views.context import explore, vocabulary_of

    began = time.perf_counter()
    state_model = open_model(source, device=device)
    vocab = vocabulary_of(state_model)
    read = time.perf_counter() - began
    explore(state_model, vocab, "bench", [SENTENCES[0]], None, "all", 8)  # warm up
    each = []
    for _ in range(ROUNDS):
        for sentence in SENTENCES:
            began = time.perf_counter()
            explore(state_model, vocab, "bench", [sentence], None, "all", 8)
            each.append(time.perf_counter() - began)
    began = time.perf_counter()
    explore(state_model, vocab, "bench", list(SENTENCES), "bank", "all", 8)
    shared = time.perf_counter() - began
    return {
        "layers": state_model.layers,
        "dim": int(vocab.unit.shape[1]),
        "tokens": len(vocab),
        "read_s": read,
        "per_sentence_s": sorted(each)[len(each) // 2],
        "worst_s": max(each),
        "bank_three_s": shared,
        "peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def child(size: str, device: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", size, "--device", device], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        raise SystemExit(f"{size} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def full_folder() -> Path | None:
    """The stand-in with layers, built if the disk has room; None (with a line saying why) when it has not."""
    import qwen_standin

    target = qwen_standin.default_cache_dir()
    if (target.parent / (target.name + "-layers") / qwen_standin.LAYERS_INDEX).is_file():
        return qwen_standin.whole_standin_folder()
    target.parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(target.parent).free
    need = qwen_standin.layers_bytes() + 2 * 2**30  # the layers, plus the embedding folder and slack
    if free < need:
        print(f"full size skipped: building it needs about {need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free")
        return None
    began = time.perf_counter()
    folder = qwen_standin.whole_standin_folder()
    print(f"built {folder} in {time.perf_counter() - began:.0f} s")
    return folder


def line(name: str, r: dict) -> str:
    return (
        f"{name}: {r['layers']} layers x {r['dim']}, {r['tokens']:,} tokens; model read in {r['read_s']:.1f} s; "
        f"{r['per_sentence_s']:.2f} s per sentence (median of {ROUNDS * len(SENTENCES)}, worst {r['worst_s']:.2f} s, "
        f"every token at every layer, k=8); three sentences sharing 'bank' {r['bank_three_s']:.2f} s; "
        f"peak memory {r['peak_gib']:.1f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--skip-full", action="store_true", help="only MiniLM")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    parser.add_argument("--child", choices=["minilm", "full"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        from atlas.files.model_files import BUNDLED

        source = BUNDLED if args.child == "minilm" else str(full_folder())
        print(json.dumps(measure(source, args.device)))
        return
    print(line("MiniLM", child("minilm", args.device)))
    if args.skip_full:
        return
    if full_folder() is not None:
        print(line("Qwen2-1.5B-shaped stand-in (random layers)", child("full", args.device)))


if __name__ == "__main__":
    main()
