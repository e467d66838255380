"""An embedding table from a Hugging Face model: a hub id, a local folder, or the bundled all-MiniLM-L6-v2.

The files are found and read by :mod:`atlas.files.model_files`: only the input-embedding
tensor is read from the safetensors files, and the tokenizer names every row.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from atlas.core.progress import Note, StageProgress
from atlas.core.variants import detect_family, readable_text
from atlas.errors import EmbeddingsIncomplete
from atlas.files.model_files import BUNDLED, embedding_tensor_name, load_tokenizer, read_embedding_matrix, resolve
from atlas.settings import DEFAULT_MODEL

from .source import EmbeddingTable


def default_name(source: str) -> str:
    """The name a source is stored under when none is given."""
    if source == BUNDLED:
        return DEFAULT_MODEL
    path = Path(source)
    return path.name if path.is_dir() else source


def load_embedding_table(
    source: str,
    name: str | None = None,
    offline: bool = False,
    allow_short_matrix: bool = False,
    on_progress: StageProgress | None = None,
    on_warning: Note | None = None,
) -> EmbeddingTable:
    """Read a model's input embeddings and the token string of every row.

    Rows with no token in the tokenizer (padding past the vocabulary) are left out.
    A matrix with fewer rows than the tokenizer has tokens (most often weights of
    another model) raises EmbeddingsIncomplete; with ``allow_short_matrix`` the tokens
    past its end are left out instead (``unmatched`` counts them).

    For a hub id, ``on_progress("fetch", bytes, total bytes)`` follows the fetch of its input
    embedding, and ``on_warning`` is told when the server sends the whole file instead.
    """
    fetched = 0

    def fetching(have: int, total: int) -> None:
        nonlocal fetched
        if on_progress is not None:
            on_progress("fetch", have - fetched, total)
        fetched = have

    folder = resolve(source, offline, weights=True, on_progress=fetching, on_warning=on_warning)
    if source != BUNDLED and Path(source).expanduser().is_dir():
        source = str(folder.resolve())  # recorded absolute, so the tokenizer is found from any working folder
    tokenizer = load_tokenizer(str(folder))
    tensor = embedding_tensor_name(folder)
    matrix = read_embedding_matrix(folder, tensor)  # (rows, d)
    family = detect_family(tokenizer)
    specials = set(tokenizer.all_special_ids)
    specials.update(i for i, t in tokenizer.added_tokens_decoder.items() if t.special)
    pieces = tokenizer.convert_ids_to_tokens(list(range(matrix.shape[0])))
    ids = np.array([i for i, p in enumerate(pieces) if p is not None], dtype=np.int64)
    unmatched = sum(1 for i in tokenizer.get_vocab().values() if i >= matrix.shape[0])
    if unmatched and not allow_short_matrix:
        raise EmbeddingsIncomplete(
            f"the input embedding of {source} has {matrix.shape[0]:,} rows but its tokenizer has "
            f"{len(ids) + unmatched:,} tokens: {unmatched:,} tokens have no vector (wrong weights for this tokenizer?); "
            f"pass allow_short_matrix=True (--allow-short-matrix) to store only the {len(ids):,} tokens that have one"
        )
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
        tensor=tensor,
        unmatched=unmatched,
    )
