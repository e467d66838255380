"""Hidden states of tokens run alone (atlas.files.hidden_states, atlas.loaders.layers) against transformers' own forward pass.

The real bundled MiniLM (six BERT blocks) and a tiny random Qwen2 decoder saved to a folder;
no database.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from tiny_models import tiny_qwen

from atlas.core.arguments import layers as parse_layers
from atlas.errors import EmbeddingsIncomplete, InvalidArgument, SourceNotFound
from atlas.files import hidden_states
from atlas.files.model_files import BUNDLED, load_model, load_tokenizer, resolve
from atlas.loaders.layers import load_layer_tables

MINILM_IDS = [0, 100, 101, 102, 1996, 4937, 7592, 30521]  # [PAD], [UNK], [CLS], [SEP], the, cat, hello, the last


@pytest.fixture(scope="module")
def minilm():
    folder = resolve(BUNDLED)
    tokenizer = load_tokenizer(str(folder))
    return load_model(folder), tokenizer, hidden_states.special_template(tokenizer)


@pytest.fixture(scope="module")
def qwen(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny-qwen")
    _, n_tokens = tiny_qwen(folder)
    tokenizer = load_tokenizer(str(folder))
    return folder, load_model(folder), hidden_states.special_template(tokenizer), n_tokens


def test_minilm_runs_each_token_between_cls_and_sep(minilm):
    _, _, template = minilm
    assert (template.prefix, template.suffix, template.position, template.length) == ((101,), (102,), 1, 3)
    assert template.shape == "[CLS] token [SEP]"
    assert template.ids(4937) == [101, 4937, 102]


@pytest.mark.parametrize("batch_size", [3, 512])
def test_minilm_states_equal_a_direct_forward_pass(minilm, batch_size):
    model, _, template = minilm
    calls = []
    states = hidden_states.layer_states(
        model, template, MINILM_IDS, [6, 0, 3], batch_size, lambda done, total: calls.append((done, total))
    )
    assert sorted(states) == [0, 3, 6]  # only the asked layers
    assert calls[-1] == (len(MINILM_IDS), len(MINILM_IDS)) and len(calls) == -(-len(MINILM_IDS) // batch_size)
    with torch.no_grad():
        for row, token in enumerate(MINILM_IDS):
            direct = model(torch.tensor([[101, token, 102]]), output_hidden_states=True).hidden_states
            for layer in (0, 3, 6):
                assert states[layer].dtype == np.float32 and states[layer].shape == (len(MINILM_IDS), 384)
                np.testing.assert_allclose(states[layer][row], direct[layer][0, 1].numpy(), rtol=1e-5, atol=1e-5)


def test_minilm_states_are_the_tokenizers_own_encoding_of_a_one_token_word(minilm):
    """``cat`` tokenized by the tokenizer (with its special tokens) is the sequence the states come from."""
    model, tokenizer, template = minilm
    encoded = tokenizer("cat", return_tensors="pt")
    assert encoded["input_ids"].tolist() == [template.ids(4937)]
    with torch.no_grad():
        direct = model(**encoded, output_hidden_states=True).hidden_states[6][0, 1].numpy()
    states = hidden_states.layer_states(model, template, [4937], [6])
    np.testing.assert_allclose(states[6][0], direct, rtol=1e-5, atol=1e-5)


def test_minilm_layer_0_is_the_embedding_layers_output_not_the_input_row(minilm):
    """BERT's layer 0 adds the position (1) and type (0) embeddings to the word's row and normalises them."""
    model, _, template = minilm
    states = hidden_states.layer_states(model, template, MINILM_IDS, [0])[0]  # (n, 384)
    embeddings = model.embeddings
    with torch.no_grad():
        summed = (
            embeddings.word_embeddings.weight[MINILM_IDS]
            + embeddings.position_embeddings.weight[1]
            + embeddings.token_type_embeddings.weight[0]
        )
        expected = embeddings.LayerNorm(summed).numpy()
        rows = embeddings.word_embeddings.weight[MINILM_IDS].numpy()
    np.testing.assert_allclose(states, expected, rtol=1e-5, atol=1e-5)
    assert not np.allclose(states, rows, atol=1e-2)


def test_qwen_adds_no_special_tokens_and_its_states_equal_a_direct_forward_pass(qwen):
    _, model, template, n_tokens = qwen
    assert (template.prefix, template.suffix, template.shape) == ((), (), "token")
    ids = [0, 1, 57, 200, n_tokens - 1]
    states = hidden_states.layer_states(model, template, ids, range(3), batch_size=2)
    with torch.no_grad():
        for row, token in enumerate(ids):
            direct = model(torch.tensor([[token]]), output_hidden_states=True)
            for layer in range(3):
                np.testing.assert_allclose(
                    states[layer][row], direct.hidden_states[layer][0, 0].numpy(), rtol=1e-5, atol=1e-6
                )
            # the last layer is after the final norm, as transformers returns it
            np.testing.assert_allclose(states[2][row], direct.last_hidden_state[0, 0].numpy(), rtol=1e-5, atol=1e-6)
        rows = model.get_input_embeddings().weight[ids].numpy()
    # a decoder's layer 0 is its input-embedding row itself (positions enter through RoPE inside attention)
    np.testing.assert_array_equal(states[0], rows)
    assert not np.allclose(states[1], rows, atol=1e-3)


def test_layer_tables_are_the_static_tables_twins(qwen):
    folder, _, _, n_tokens = qwen
    stages = []
    tables = load_layer_tables(
        str(folder), "2,0", "tiny", batch_size=100, on_progress=lambda *call: stages.append(call)
    )
    assert [(t.name, t.layer) for t in tables] == [("tiny@0", 0), ("tiny@2", 2)]
    assert {stage for stage, _, _ in stages} == {"layer states"}
    assert sum(done for _, done, _ in stages) == n_tokens == len(tables[0])
    first, last = tables
    assert first.ids.tolist() == list(range(n_tokens)) and first.raw == last.raw and first.special == last.special
    assert first.source == str(folder.resolve()) and first.tensor is None
    assert first.method.startswith("each token alone with no special tokens, hidden state at layer 0, float32")
    with torch.no_grad():
        model = load_model(folder)
        rows = model.get_input_embeddings().weight[:n_tokens].numpy()
    np.testing.assert_array_equal(first.matrix, rows)
    assert last.matrix.shape == rows.shape and not np.allclose(last.matrix, rows, atol=1e-3)


def test_a_layer_outside_the_model_is_refused_naming_the_range(minilm):
    model, _, template = minilm
    with pytest.raises(InvalidArgument, match=r"^layer 9 is out of range: the model has layers 0\.\.6 "):
        hidden_states.layer_states(model, template, [4937], [9])
    with pytest.raises(InvalidArgument, match=r"layer -1 is out of range: 'm' has layers 0\.\.6"):
        parse_layers("-1,2", 6, "'m'")
    with pytest.raises(InvalidArgument, match=r"layer 'six' is not a number; .* in 0\.\.6, a comma list, or 'all'"):
        parse_layers(["six"], 6)
    assert parse_layers(["all"], 6) == list(range(7))
    with pytest.raises(InvalidArgument, match=r"layer 9 is out of range: 'x' has layers 0\.\.6"):
        load_layer_tables(BUNDLED, 9, "x")


def test_weights_without_the_blocks_are_refused(qwen, tmp_path):
    """A folder holding only the input embedding (what a hub fetch for a static load keeps) has no layer states."""
    folder, model, _, _ = qwen
    for file in folder.iterdir():
        if not file.name.endswith(".safetensors") and file.name != "model.safetensors.index.json":
            (tmp_path / file.name).write_bytes(file.read_bytes())
    save_file(
        {"model.embed_tokens.weight": model.get_input_embeddings().weight.detach().clone()},
        tmp_path / "model.safetensors",
    )
    with pytest.raises(
        EmbeddingsIncomplete,
        match=r"lack \d+ of the model's tensors .*so its layers would be random; give a folder with the whole model",
    ):
        load_model(tmp_path)


def test_a_hub_model_not_in_the_cache_is_one_line_offline():
    with pytest.raises(
        SourceNotFound, match=r"^the whole model 'no-such-org/no-such-model' .* local Hugging Face cache"
    ):
        hidden_states.model_folder("no-such-org/no-such-model", offline=True)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"num_hidden_layers": 0}, "gives num_hidden_layers 0: a model without blocks has no hidden layers"),
        ({"hidden_size": 8}, "gives no num_hidden_layers; layer atlases need it"),
        ({"text_config": {"num_hidden_layers": 3}}, None),
    ],
)
def test_the_layer_count_of_a_config_is_said_as_it_is(tmp_path, config, message):
    import json

    (tmp_path / "config.json").write_text(json.dumps(config))
    if message is None:
        assert hidden_states.layer_count(tmp_path) == 3
        return
    with pytest.raises(SourceNotFound, match=message):
        hidden_states.layer_count(tmp_path)
