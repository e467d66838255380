"""A model whose input embeddings are missing or shorter than its tokenizer is refused, not stored as complete.

Each case is a folder holding the bundled MiniLM's tokenizer and config beside weights
that do not give every token a trained vector.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import error_line
from safetensors.numpy import save_file

from atlas.files.model_files import default_source, read_embedding_matrix

MINILM_FILES = ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")
MINILM_TOKENS = 30_522
TENSOR = "embeddings.word_embeddings.weight"


def minilm_folder(folder: Path) -> Path:
    """A folder with MiniLM's config and tokenizer and no weights."""
    folder.mkdir()
    for name in MINILM_FILES:
        shutil.copy(Path(default_source()) / name, folder / name)
    return folder


def stored(run, name: str) -> str | None:
    listed = run("models", "--json")
    import json

    return next((m["status"] for m in json.loads(listed.stdout) if m["name"] == name), None)


def test_safetensors_without_the_embedding_is_refused(run, tmp_path, model_name):
    folder = minilm_folder(tmp_path / "foo-only")
    save_file({"foo.weight": np.ones((4, 4), np.float32)}, str(folder / "model.safetensors"))
    result = run("load", folder, "--name", model_name, "--k", "5", "--no-analysis", "--quiet")
    assert error_line(result) == (
        f"Error: the weights of {folder} hold no input embedding: looked for '{TENSOR}' (or a name ending in "
        f"'.{TENSOR}') in model.safetensors, which holds 1 other tensor ('foo.weight'); "
        "give a folder with the model's own weights"
    )
    assert stored(run, model_name) is None


def test_checkpoint_without_the_embedding_is_refused(run, tmp_path, model_name):
    """A PyTorch checkpoint is read by building the model: an embedding it initialised at random is refused."""
    folder = minilm_folder(tmp_path / "bin-foo-only")
    torch.save({"foo.weight": torch.ones(4, 4)}, folder / "pytorch_model.bin")
    result = run("load", folder, "--name", model_name, "--k", "5", "--no-analysis", "--quiet")
    assert error_line(result) == (
        f"Error: the weights of {folder} hold no input embedding: loading them left '{TENSOR}' "
        "randomly initialised (missing from the checkpoint); give a folder with the model's own weights"
    )
    assert stored(run, model_name) is None


def short_folder(tmp_path: Path) -> Path:
    folder = minilm_folder(tmp_path / "short")
    matrix = read_embedding_matrix(Path(default_source()))[:1000].copy()  # (1000, 384)
    save_file({TENSOR: matrix}, str(folder / "model.safetensors"))
    return folder


def test_matrix_shorter_than_the_tokenizer_is_refused(run, tmp_path, model_name):
    folder = short_folder(tmp_path)
    result = run("load", folder, "--name", model_name, "--k", "5", "--no-analysis", "--quiet")
    assert error_line(result) == (
        f"Error: the input embedding of {folder} has 1,000 rows but its tokenizer has {MINILM_TOKENS:,} tokens: "
        f"{MINILM_TOKENS - 1000:,} tokens have no vector (wrong weights for this tokenizer?); "
        "pass allow_short_matrix=True (--allow-short-matrix) to store only the 1,000 tokens that have one"
    )
    assert stored(run, model_name) is None


def test_matrix_shorter_than_the_tokenizer_loads_when_allowed(run, tmp_path, model_name):
    folder = short_folder(tmp_path)
    result = run("load", folder, "--name", model_name, "--k", "5", "--no-analysis", "--quiet", "--allow-short-matrix")
    assert result.exit_code == 0, result.output
    assert stored(run, model_name) == "complete"


def test_library_refuses_a_short_matrix_unless_allowed(tmp_path):
    from atlas.errors import EmbeddingsIncomplete
    from atlas.loaders import load_embedding_table

    folder = short_folder(tmp_path)
    with pytest.raises(EmbeddingsIncomplete, match="has 1,000 rows but its tokenizer has 30,522 tokens"):
        load_embedding_table(str(folder))
    table = load_embedding_table(str(folder), allow_short_matrix=True)
    assert (len(table), table.unmatched) == (1000, MINILM_TOKENS - 1000)
