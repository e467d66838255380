"""Loaders on real (tiny, random-weight) Hugging Face model folders and the bundled MiniLM."""

import json

import numpy as np
import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

from atlas.errors import SourceNotFound
from loaders import DEFAULT_MODEL_NAME, load_embedding_table
from loaders.huggingface import BUNDLED, embedding_tensor_name, resolve

CORPUS = ["a list of lists", "List the items", "LIST all", "the cat sat on the mat", "cats and dogs"] * 20


def byte_bpe_tokenizer(vocab_size: int) -> PreTrainedTokenizerFast:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>")
    fast.add_special_tokens({"additional_special_tokens": ["<|im_start|>"]})
    return fast


@pytest.fixture(scope="module")
def qwen_folder(tmp_path_factory):
    """A tiny Qwen2 model whose embedding matrix has more rows than its tokenizer has tokens."""
    folder = tmp_path_factory.mktemp("tiny-qwen")
    tokenizer = byte_bpe_tokenizer(300)
    n_tokens = len(tokenizer)
    config = Qwen2Config(
        vocab_size=n_tokens + 13, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(folder, max_shard_size="60KB")  # several shards with an index file
    tokenizer.save_pretrained(folder)
    return folder, model, n_tokens


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
