"""The hidden states of a model's tokens at its layers: every token run through the model alone.

A token's state at layer ``L`` is ``hidden_states[L]`` of a transformers forward pass with
``output_hidden_states=True`` over the one-token text the tokenizer would make of it: the
token with the special tokens its tokenizer adds around a single sequence (``[CLS] token
[SEP]`` for BERT, nothing for Qwen2), taken at the token's position. ``hidden_states[0]``
is the embedding layer's output (for BERT the word, position and type embeddings after
their LayerNorm; for Qwen2 the input-embedding row itself), ``hidden_states[L]`` the
output of block ``L`` (for Qwen2 the last one after the final norm, as transformers
returns it).

Every sequence has the same length, so batches need no padding. Only the asked layers'
states are kept: ``(N, d)`` float32 each, e.g. 30,522 x 384 x 4 B = 47 MB per MiniLM layer,
151,665 x 1,536 x 4 B = 0.93 GB per Qwen2-1.5B layer; a batch's states of the other layers
are dropped when the batch is done.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from atlas.core import arguments
from atlas.core.progress import ignore
from atlas.errors import InvalidArgument, SourceNotFound
from atlas.files.model_files import BUNDLED, HUB_FILES, read_json, resolve

Progress = Callable[[int, int], None]  # (tokens done so far, all tokens)
PLACEHOLDERS = ("a", "the", "x", "0", "A", ".")  # texts one of which any tokenizer makes a single token of


@dataclass(frozen=True)
class SpecialTemplate:
    """What the tokenizer puts around one token: ``prefix + [token] + suffix``.

    >>> SpecialTemplate((101,), (102,), ("[CLS]",), ("[SEP]",)).ids(7592)
    [101, 7592, 102]
    >>> SpecialTemplate((101,), (102,), ("[CLS]",), ("[SEP]",)).shape
    '[CLS] token [SEP]'
    """

    prefix: tuple[int, ...]
    suffix: tuple[int, ...]
    prefix_text: tuple[str, ...] = ()
    suffix_text: tuple[str, ...] = ()

    def ids(self, token: int) -> list[int]:
        return [*self.prefix, int(token), *self.suffix]

    @property
    def position(self) -> int:
        """Where the token sits in its sequence."""
        return len(self.prefix)

    @property
    def length(self) -> int:
        return len(self.prefix) + 1 + len(self.suffix)

    @property
    def shape(self) -> str:
        """The sequence in words, e.g. ``[CLS] token [SEP]``, or ``token`` when nothing is added."""
        return " ".join([*self.prefix_text, "token", *self.suffix_text])


def special_template(tokenizer) -> SpecialTemplate:
    """The special tokens the (transformers fast) ``tokenizer`` adds around a single one-token sequence.

    Found by encoding a one-token placeholder text and running the tokenizer's own post-processor
    on it (padding and truncation off): the token is where the special-tokens mask is 0.
    """
    from tokenizers import Tokenizer

    backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    backend.no_padding()
    backend.no_truncation()
    for text in PLACEHOLDERS:
        encoding = backend.encode(text, add_special_tokens=False)
        if len(encoding.ids) == 1:
            break
    else:
        raise SourceNotFound("cannot tell which special tokens the tokenizer adds: no one-token text found")
    full = backend.post_process(encoding, None, True)
    plain = [i for i, special in enumerate(full.special_tokens_mask) if not special]
    if len(plain) != 1 or full.ids[plain[0]] != encoding.ids[0]:
        raise SourceNotFound(f"the tokenizer's post-processor turns one token into {full.tokens}; cannot place it")
    at = plain[0]
    return SpecialTemplate(
        tuple(full.ids[:at]), tuple(full.ids[at + 1 :]), tuple(full.tokens[:at]), tuple(full.tokens[at + 1 :])
    )


def model_folder(source: str, offline: bool = False) -> Path:
    """A folder with the whole model (config, tokenizer, every weight): the bundled model, a folder, or a hub id's snapshot.

    A hub id is fetched whole into (or found in) the Hugging Face cache; ``offline`` uses the cache only.
    """
    path = Path(source).expanduser()
    if source == BUNDLED or path.exists() or source.startswith((".", "/", "~")) or source.count("/") > 1:
        return resolve(source, offline)  # the bundled model, a folder, or the line saying the source is no folder
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HFValidationError

    try:
        return Path(snapshot_download(source, allow_patterns=[*HUB_FILES, "*.safetensors"], local_files_only=offline))
    except HFValidationError:
        raise SourceNotFound(f"{source!r} is neither a folder nor a valid Hugging Face model id") from None
    except Exception as exc:  # the hub client raises many types: not found, offline, network
        where = "in the local Hugging Face cache" if offline else "locally or on the Hugging Face hub"
        raise SourceNotFound(
            f"the whole model {source!r} (every layer's weights, for its hidden states) was not found {where}: "
            f"{type(exc).__name__}; download it first on a machine with hub access, or give its folder"
        ) from None


def layer_name(model: str, layer: int) -> str:
    """The name the layer atlas of ``model`` at ``layer`` is stored under.

    >>> layer_name("all-MiniLM-L6-v2", 6)
    'all-MiniLM-L6-v2@6'
    """
    return f"{model}@{layer}"


def refuse_layer_atlas(props: dict, what: str) -> None:
    """InvalidArgument when ``props`` (a Model node's) are a layer atlas's: ``what`` reads its source's input
    embeddings, which are not that model's vectors.

    >>> refuse_layer_atlas({"name": "m@6", "layer": 6}, "`atlas near`")
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: model 'm@6' is a layer atlas (hidden states at layer 6): `atlas near` reads input embeddings from its source, not these states; use the model of its input embeddings instead
    """
    if props.get("layer") is not None:
        raise InvalidArgument(
            f"model {props.get('name')!r} is a layer atlas (hidden states at layer {props['layer']}): "
            f"{what} reads input embeddings from its source, not these states; use the model of its input embeddings instead"
        )


def memory_available() -> int | None:
    """Bytes of memory the system can give without swapping (MemAvailable in /proc/meminfo); None where unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def layer_count(folder: Path) -> int:
    """How many blocks the model in ``folder`` has (``num_hidden_layers`` of its config); layers are 0..that."""
    config = read_json(folder / "config.json")
    text = config.get("text_config") if isinstance(config, dict) else None
    count = (config if isinstance(config, dict) else {}).get("num_hidden_layers")
    if count is None:
        count = (text if isinstance(text, dict) else {}).get("num_hidden_layers")
    if isinstance(count, bool) or not isinstance(count, int):
        raise SourceNotFound(f"{folder / 'config.json'} gives no num_hidden_layers; layer atlases need it")
    if count < 1:
        raise SourceNotFound(
            f"{folder / 'config.json'} gives num_hidden_layers {count}: a model without blocks has no hidden layers "
            "to make atlases of"
        )
    return count


def method(template: SpecialTemplate, layer: int) -> str:
    """How the states of ``layer`` were made, in one line (recorded on the Model node).

    >>> method(SpecialTemplate((101,), (102,), ("[CLS]",), ("[SEP]",)), 6)  # doctest: +ELLIPSIS
    'each token alone as [CLS] token [SEP], hidden state at layer 6, float32, transformers ...'
    """
    import transformers

    alone = f"as {template.shape}" if template.length > 1 else "with no special tokens"
    return f"each token alone {alone}, hidden state at layer {layer}, float32, transformers {transformers.__version__}"


def layer_states(
    model: Any,
    template: SpecialTemplate,
    ids: Sequence[int] | np.ndarray,
    layers: Sequence[int],
    batch_size: int = 512,
    on_progress: Progress | None = None,
) -> dict[int, np.ndarray]:
    """The hidden state of every token of ``ids``, each run alone in ``template``, at each of ``layers``: ``{layer: (N, d) float32}``.

    ``layers`` are checked against the model's ``num_hidden_layers`` first. The forward
    passes run on the model's device and dtype, ``batch_size`` tokens at a time;
    ``on_progress(done, total)`` is told after each batch.
    """
    import torch

    batch_size = arguments.integer(batch_size, "batch_size", 1)
    wanted = arguments.layers(layers, int(model.config.num_hidden_layers))
    tokens = np.asarray(ids, dtype=np.int64)  # (N,)
    device = next(model.parameters()).device
    prefix = torch.tensor(template.prefix, dtype=torch.int64, device=device)
    suffix = torch.tensor(template.suffix, dtype=torch.int64, device=device)
    at = template.position
    states = {layer: np.empty((len(tokens), model.config.hidden_size), dtype=np.float32) for layer in wanted}
    tell = on_progress or ignore
    with torch.no_grad():
        for start in range(0, len(tokens), batch_size):
            batch = torch.from_numpy(tokens[start : start + batch_size]).to(device)  # (B,)
            rows = len(batch)
            input_ids = torch.cat(
                [prefix.expand(rows, -1), batch[:, None], suffix.expand(rows, -1)], dim=1
            )  # (B, length)
            out = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), output_hidden_states=True)
            for layer in wanted:
                states[layer][start : start + rows] = out.hidden_states[layer][:, at, :].float().cpu().numpy()
            del out  # the other layers' states of this batch go now
            tell(start + rows, len(tokens))
    return states
