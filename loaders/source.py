"""The one small object every embedding source hands on."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class EmbeddingTable:
    """Vectors and token strings of one model's vocabulary.

    Row ``i`` of ``matrix`` is token ``ids[i]``. Matrix rows that no token owns (a
    model padded past its tokenizer, such as Qwen's 151,936 rows for about 151,665
    tokens) are not in the table: ``matrix_rows`` records how many the source had.
    Tokens the tokenizer has past the matrix's last row have no vector and are not in
    the table either: ``unmatched`` counts them. A layer atlas's rows are the tokens'
    hidden states at ``layer`` instead (see :mod:`atlas.loaders.layers`), made as ``method`` says.
    A corpus atlas's rows are words of a text corpus (see :mod:`atlas.loaders.corpus`), with
    their ``counts``; ``props`` records its corpus and parameters on the Model node.
    """

    name: str  # the model name the graph is stored under
    source: str  # where it came from: a hub id or a folder
    matrix: np.ndarray  # (N, d) float32
    ids: np.ndarray  # (N,) int64 token ids
    raw: list[str]  # tokenizer pieces, e.g. "Ġlist"
    text: list[str]  # readable text, e.g. " list"
    special: list[bool]
    family: str  # tokenizer family, see atlas.core.variants.FAMILIES
    matrix_rows: int
    tensor: str | None = None  # the safetensors key of the input embeddings, when read from safetensors
    unmatched: int = 0  # tokenizer tokens with no matrix row
    layer: int | None = None  # a layer atlas: the rows are hidden states at this layer (None: the input embeddings)
    method: str | None = None  # a layer atlas: how the states were made, in one line
    counts: np.ndarray | None = None  # a corpus atlas: (N,) each word's count in the corpus, stored as `count`
    props: dict | None = (
        None  # more Model-node properties (a corpus atlas's corpus and parameters); a re-run compares them
    )

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def __len__(self) -> int:
        return int(self.matrix.shape[0])
