"""Loaders on real (tiny, random-weight) Hugging Face model folders and the bundled MiniLM."""

import json

import numpy as np
import pytest

from atlas.errors import SourceNotFound
from atlas.files.model_files import BUNDLED, embedding_tensor_name, resolve
from atlas.loaders import load_embedding_table
from atlas.settings import DEFAULT_MODEL as DEFAULT_MODEL_NAME


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
    folder, _model, n_tokens = qwen_folder
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
    with pytest.raises(
        SourceNotFound, match=r"'nobody/no-such-model' \(or its weights\) was not found in the local Hugging Face cache"
    ):
        resolve("nobody/no-such-model", offline=True)


def fake_hub_cache(cache, repo: str, folder, keep) -> None:
    """Lay out a Hugging Face cache holding only the files ``keep(name)`` accepts, as a download would."""
    commit = "0" * 40
    root = cache / f"models--{repo.replace('/', '--')}"
    (root / "refs").mkdir(parents=True)
    (root / "refs" / "main").write_text(commit)
    snapshot = root / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for f in folder.iterdir():
        if keep(f.name):
            (snapshot / f.name).write_bytes(f.read_bytes())


def test_hub_id_needs_only_the_embedding_shard(qwen_folder, tmp_path, monkeypatch):
    import huggingface_hub.constants

    folder, model, n_tokens = qwen_folder
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    shard = index["weight_map"]["model.embed_tokens.weight"]
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    fake_hub_cache(tmp_path, "org/tiny-qwen", folder, lambda name: not name.endswith(".safetensors") or name == shard)
    table = load_embedding_table("org/tiny-qwen", offline=True)
    assert table.name == "org/tiny-qwen" and table.source == "org/tiny-qwen"
    np.testing.assert_array_equal(table.matrix, model.get_input_embeddings().weight.detach().numpy()[:n_tokens])


def test_hub_id_without_its_embedding_shard_in_the_cache(qwen_folder, tmp_path, monkeypatch):
    import huggingface_hub.constants

    folder = qwen_folder[0]
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    fake_hub_cache(tmp_path, "org/tiny-qwen", folder, lambda name: not name.endswith(".safetensors"))
    with pytest.raises(
        SourceNotFound, match=r"'org/tiny-qwen' \(or its weights\) was not found in the local Hugging Face cache"
    ):
        load_embedding_table("org/tiny-qwen", offline=True)
