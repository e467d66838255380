"""Benchmark: the hidden states of layer atlases (``atlas load --layer``), on this machine's CPU or a GPU.

    .venv/bin/python bench/bench_layers.py [--device cpu] [--qwen-batch 256] [--qwen-batches 3] [--skip-qwen]

1. all-MiniLM-L6-v2 (the bundled model): every one of its 30,522 tokens run alone as
   ``[CLS] token [SEP]`` through the model, states kept at all seven layers 0..6, with
   :func:`atlas.files.hidden_states.layer_states` (target: at most 60 s on 2 cores).
2. A full-size Qwen2 decoder: a random model with Qwen2-1.5B's sizes (hidden 1536, 28
   blocks, intermediate 8960, 12 heads, 2 key-value heads, vocabulary 151,936) built from
   its config in memory, float32 (about 6 GB). A warm-up batch, then ``--qwen-batches``
   timed batches of ``--qwen-batch`` single-token sequences through all 28 blocks, states
   kept at every layer; the median batch time is extrapolated to 151,936 tokens.

The weights are random: the time of a forward pass does not depend on their values.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

QWEN_VOCAB = 151_936


def minilm(device: str, batch: int) -> None:
    from atlas.files import hidden_states
    from atlas.files.model_files import BUNDLED, load_model, load_tokenizer, resolve

    folder = resolve(BUNDLED)
    began = time.perf_counter()
    model = load_model(folder, device=device)
    template = hidden_states.special_template(load_tokenizer(str(folder)))
    loaded = time.perf_counter() - began
    began = time.perf_counter()
    states = hidden_states.layer_states(model, template, np.arange(30_522), range(7), batch)
    seconds = time.perf_counter() - began
    size = sum(s.nbytes for s in states.values())
    print(f"all-MiniLM-L6-v2: model read in {loaded:.1f} s ({template.shape})")
    print(
        f"  30,522 tokens x layers 0..6 in {seconds:.1f} s ({30_522 / seconds:,.0f} tokens/s, batch {batch}); "
        f"states {size / 2**20:.0f} MiB; target <= 60 s on 2 cores: {'met' if seconds <= 60 else 'missed'}"
    )


def qwen(device: str, batch: int, batches: int) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2Model

    from atlas.files.hidden_states import SpecialTemplate, layer_states

    config = Qwen2Config(
        vocab_size=QWEN_VOCAB,
        hidden_size=1536,
        intermediate_size=8960,
        num_hidden_layers=28,
        num_attention_heads=12,
        num_key_value_heads=2,
        max_position_embeddings=32768,
    )
    began = time.perf_counter()
    torch.manual_seed(0)
    model = Qwen2Model(config).to(device).eval()
    params = sum(p.numel() for p in model.parameters())
    print(
        f"random Qwen2 with Qwen2-1.5B's sizes: {params / 1e9:.2f} B parameters, float32, built in {time.perf_counter() - began:.1f} s"
    )
    template = SpecialTemplate((), ())  # Qwen2's tokenizer adds nothing around a single sequence
    rng = np.random.default_rng(0)
    times = []
    for i in range(batches + 1):
        ids = rng.integers(0, QWEN_VOCAB, batch)
        began = time.perf_counter()
        layer_states(model, template, ids, range(29), batch)
        if device == "cuda":
            torch.cuda.synchronize()
        if i:  # the first batch warms up
            times.append(time.perf_counter() - began)
    per_batch = statistics.median(times)
    whole = per_batch * QWEN_VOCAB / batch
    print(
        f"  {batch} single-token sequences through 28 blocks, all 29 layers kept: {per_batch:.2f} s per batch "
        f"(median of {', '.join(f'{t:.2f}' for t in times)}), {batch / per_batch:,.0f} tokens/s"
    )
    print(f"  extrapolated to {QWEN_VOCAB:,} tokens: {whole:,.0f} s ({whole / 60:.1f} min) on {device}")
    print(
        f"  states of one layer: {QWEN_VOCAB * 1536 * 4 / 2**30:.2f} GiB float32; all 29: {29 * QWEN_VOCAB * 1536 * 4 / 2**30:.1f} GiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--minilm-batch", type=int, default=512)
    parser.add_argument("--qwen-batch", type=int, default=256)
    parser.add_argument("--qwen-batches", type=int, default=3)
    parser.add_argument("--skip-qwen", action="store_true")
    args = parser.parse_args()
    import torch

    print(
        f"{os.cpu_count()} cores, torch {torch.__version__} with {torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.1f}"
    )
    minilm(args.device, args.minilm_batch)
    if not args.skip_qwen:
        qwen(args.device, args.qwen_batch, args.qwen_batches)


if __name__ == "__main__":
    main()
