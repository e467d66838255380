"""Loaders on real (tiny, random-weight) Hugging Face model folders and the bundled MiniLM."""

import json

import numpy as np
import pytest

from atlas.errors import SourceNotFound
from loaders import DEFAULT_MODEL_NAME, load_embedding_table
from loaders.huggingface import BUNDLED, embedding_tensor_name, resolve


def test_reads_embeddings_of_a_sharded_model_from_its_one_shard(qwen_folder, tmp_path):
    folder, model, n_tokens = qwen_folder
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    name = embedding_tensor_name(folder)
    assert name == "model.embed_tokens.weight"
    # keep only the shard holding the embeddings: nothing else may be needed
    lean = tmp_path / "lean"
    lean.mkdir()
    shard = index["weight_map"][name]
    assert len(set(index["weight_map"].values())) > 1
    for f in folder.iterdir():
        if f.suffix != ".safetensors" or f.name == shard:
            (lean / f.name).write_bytes(f.read_bytes())
    table = load_embedding_table(str(lean), name="tiny")
    expected = model.get_input_embeddings().weight.detach().numpy()
    np.testing.assert_array_equal(table.matrix, expected[:n_tokens])
    assert table.family == "byte_bpe"


def test_rows_without_a_token_are_left_out(qwen_folder):
    folder, model, n_tokens = qwen_folder
    table = load_embedding_table(str(folder))
    assert table.matrix_rows == n_tokens + 13
    assert len(table) == n_tokens and table.ids.tolist() == list(range(n_tokens))
    assert table.name == folder.name
    tokens = dict(zip(table.raw, table.text))
    assert tokens["Ġlist"] == " list"
    special = {t for t, s in zip(table.raw, table.special) if s}
    assert special == {"<|endoftext|>", "<|im_start|>"}


def test_bundled_minilm():
    table = load_embedding_table(BUNDLED)
    assert table.name == DEFAULT_MODEL_NAME
    assert table.matrix.shape == (30522, 384) and table.matrix.dtype == np.float32
    assert table.family == "wordpiece"
    assert table.raw[table.raw.index("cat")] == "cat"
    assert sum(table.special) == 5 and table.special[table.raw.index("[CLS]")]


@pytest.mark.parametrize(
    "source,message",
    [
        ("/no/such/folder", "is not a folder"),
        ("not a valid id!!", "neither a folder nor a valid Hugging Face model id"),
    ],
)
def test_unknown_source(source, message):
    with pytest.raises(SourceNotFound, match=message):
        resolve(source)


def test_missing_hub_model_offline():
    with pytest.raises(SourceNotFound, match=r"'nobody/no-such-model' was not found in the local Hugging Face cache"):
        resolve("nobody/no-such-model", offline=True)
