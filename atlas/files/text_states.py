"""A text run once through a whole model: its tokens and their hidden state at every layer.

Token embeddings are static: "bank" has one row in "river bank" and in "bank robbery".
A model's layers make them contextual. :func:`open_model` reads the whole transformers
model (every layer, not only the input embedding the load reads) and its tokenizer from
the model's folder; :meth:`StateModel.run` tokenizes a text, with the special tokens the
model expects (``[CLS]`` ... ``[SEP]`` for BERT-like models, the BOS token for Qwen2 /
DeepSeek), and returns the states of every layer: index 0 is what the embedding layer
hands the first block (for BERT: word + position + type embeddings, layer-normed; for
Qwen2: the input-embedding row itself), index L the output of block L (for Qwen2 the
last one after the final norm, as transformers returns it).

Encoders and decoders take the same path (``AutoModel``); a decoder's states at a
position see only the tokens before it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from atlas.core.arguments import choice
from atlas.core.load_options import DTYPES
from atlas.core.topk import resolve_device
from atlas.core.variants import detect_family, readable_text
from atlas.errors import InvalidArgument
from atlas.files.model_files import load_model, load_tokenizer, quiet_transformers, read_json, resolve


@dataclass(frozen=True)
class TextStates:
    """One text as the model saw it.

    ``ids``, ``pieces`` (the tokenizer's strings, ``"Ġbank"``), ``tokens`` (readable text,
    ``" bank"``), ``special`` and ``offsets`` (character span in ``text``; (0, 0) for a
    special token) have one entry per position; ``states`` is (layers + 1, positions, d) float32.
    """

    text: str
    ids: list[int]
    pieces: list[str]
    tokens: list[str]
    special: list[bool]
    offsets: list[tuple[int, int]]
    states: np.ndarray
    unknown: list[tuple[int, int]] = field(default_factory=list)  # spans of text read as the unknown token ([UNK])

    @property
    def layers(self) -> int:
        """How many blocks the model has (``states`` holds one more: the embedding layer's output)."""
        return int(self.states.shape[0]) - 1


class StateModel:
    """A whole transformers model and its tokenizer, read once, to run texts through."""

    def __init__(self, folder: Path, model: Any, tokenizer: Any, device: str):
        self.folder = folder
        self.model = model
        self.tokenizer = tokenizer
        self.device = device
        self.family = detect_family(tokenizer)
        self.layers = int(model.config.num_hidden_layers)
        self._specials = set(tokenizer.all_special_ids)
        self._specials.update(i for i, t in tokenizer.added_tokens_decoder.items() if t.special)

    def input_embeddings(self) -> np.ndarray:
        """The model's input-embedding matrix, (rows, d) float32 (rows past the tokenizer's tokens included)."""
        weight = self.model.get_input_embeddings().weight
        return weight.detach().float().cpu().numpy()

    def vocabulary(self, rows: int) -> tuple[np.ndarray, list[str]]:
        """The ids of the first ``rows`` matrix rows that the tokenizer names (padding rows left out), and their text."""
        pieces = self.tokenizer.convert_ids_to_tokens(list(range(rows)))
        ids = np.array([i for i, p in enumerate(pieces) if p is not None], dtype=np.int64)
        return ids, [readable_text(pieces[i], self.family) for i in ids]

    def is_special(self, token_id: int) -> bool:
        return int(token_id) in self._specials

    def run(self, text: str) -> TextStates:
        """Tokenize ``text`` (with the model's special tokens) and return every layer's states; see :class:`TextStates`."""
        if not text.strip():
            raise InvalidArgument("the text is empty; give some text")
        with quiet_transformers():  # a text past the model's length gets our one line, not transformers' warning
            encoded = self.tokenizer(text, return_offsets_mapping=True)
        ids = [int(i) for i in encoded["input_ids"]]
        if not ids:
            raise InvalidArgument(f"the text {text!r} has no tokens; give some text")
        limit = getattr(self.model.config, "max_position_embeddings", None)
        if limit and len(ids) > limit:
            raise InvalidArgument(
                f"the text has {len(ids):,} tokens, more than the model's {limit:,}; give a shorter one"
            )
        states = forward_states(self.model, ids, self.device)  # (L + 1, n, d)
        pieces = self.tokenizer.convert_ids_to_tokens(ids)
        special = [self.is_special(i) for i in ids]
        return TextStates(
            text=text,
            ids=ids,
            pieces=list(pieces),
            tokens=[readable_text(p, self.family) for p in pieces],
            special=special,
            offsets=[(0, 0) if s else (int(a), int(b)) for (a, b), s in zip(encoded["offset_mapping"], special)],
            states=states,
            unknown=[
                (int(a), int(b))
                for i, (a, b) in zip(ids, encoded["offset_mapping"])
                if i == self.tokenizer.unk_token_id and b > a
            ],
        )


def forward_states(model: Any, ids: list[int], device: str) -> np.ndarray:
    """The hidden states of one sequence of token ids at every layer: (layers + 1, n, d) float32."""
    import torch

    with torch.no_grad():
        input_ids = torch.tensor([ids], dtype=torch.long, device=device)
        out = model(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), output_hidden_states=True)
        return torch.stack([h[0] for h in out.hidden_states]).float().cpu().numpy()


def open_model(source: str, offline: bool = False, device: str = "auto", dtype: str = "float32") -> StateModel:
    """Read the whole model at ``source`` (a folder, a cached hub id, or the bundled MiniLM) to run texts through.

    Raises EmbeddingsIncomplete when the folder lacks some of the model's weights (a load
    fetches only the input embedding of a hub model: the layers are not there).
    """
    choice(dtype, "dtype", DTYPES)
    device = resolve_device(device)
    folder = resolve(source, offline, weights=True)
    read_json(folder / "config.json")
    tokenizer = load_tokenizer(str(folder))
    model = load_model(folder, dtype, device)
    return StateModel(folder, model, tokenizer, device)
