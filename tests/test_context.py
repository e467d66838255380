"""A word through the layers: hidden states against a direct transformers pass, nearest lists against brute force,
the "bank" example on the bundled MiniLM, a tiny random Qwen2, and the pure helpers."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from atlas.core.arguments import layers as parse_layers
from atlas.core.context import (
    Vocabulary,
    cosine,
    nearest,
    own_cosine,
    separating,
    word_positions,
    word_state,
)
from atlas.errors import EmbeddingsIncomplete, InvalidArgument
from atlas.files.model_files import BUNDLED, default_source
from atlas.files.text_states import open_model
from atlas.views.context import explore, vocabulary_of

RIVER = "we sat on the river bank and watched the water"
ROBBERY = "the bank robbery was on the news"
DEPOSIT = "she deposited money at the bank"


@pytest.fixture(scope="module")
def minilm():
    state_model = open_model(BUNDLED, device="cpu")
    return state_model, vocabulary_of(state_model)


@pytest.fixture(scope="module")
def bank(minilm):
    state_model, vocab = minilm
    return explore(state_model, vocab, "m", [RIVER, ROBBERY, DEPOSIT], "bank", "all", 8)


def brute_nearest(matrix: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> tuple[list[int], np.ndarray]:
    rows = matrix[ids].astype(np.float64)
    norms = np.linalg.norm(rows, axis=1)
    scores = np.where(norms > 0, rows @ query / np.where(norms > 0, norms, 1) / np.linalg.norm(query), -np.inf)
    order = sorted(range(len(ids)), key=lambda i: (-scores[i], ids[i]))[:k]
    return [int(ids[i]) for i in order], scores[order]


# --- pure functions against brute force ------------------------------------------------------------


@pytest.mark.parametrize(("v", "d", "k"), [(50, 4, 1), (300, 16, 7), (1000, 8, 30)])
def test_nearest_is_a_brute_force_cosine_ranking(v, d, k):
    rng = np.random.default_rng(v + d + k)
    matrix = rng.standard_normal((v + 5, d)).astype(np.float32)
    matrix[3] = 0.0  # a zero row: never a neighbour
    matrix[10] = matrix[11]  # a tie: the lower id first
    ids = np.sort(rng.choice(v + 5, size=v, replace=False))
    vocab = Vocabulary.from_matrix(matrix, ids, [str(i) for i in ids])
    queries = rng.standard_normal((6, d)).astype(np.float32)
    queries[0] = matrix[11] * 3  # exactly on the tied pair
    rows, scores = nearest(vocab, queries, k)
    for q in range(len(queries)):
        want_ids, want_scores = brute_nearest(matrix, ids, queries[q], k)
        assert vocab.ids[rows[q]].tolist() == want_ids
        np.testing.assert_allclose(scores[q], want_scores, rtol=1e-5, atol=1e-6)


def test_separating_tokens_are_the_largest_differences_of_cosines():
    rng = np.random.default_rng(1)
    matrix = rng.standard_normal((200, 12)).astype(np.float32)
    vocab = Vocabulary.from_matrix(matrix, np.arange(200), [str(i) for i in range(200)])
    a, b = rng.standard_normal(12), rng.standard_normal(12)
    rows, gaps = separating(vocab, a, b, 5)
    unit = matrix / np.linalg.norm(matrix, axis=1, keepdims=True)
    want = unit @ (a / np.linalg.norm(a)) - unit @ (b / np.linalg.norm(b))
    assert rows.tolist() == np.argsort(-want, kind="stable")[:5].tolist()
    np.testing.assert_allclose(gaps, want[rows], rtol=1e-5)
    assert separating(vocab, a, 2 * a, 5)[0].size == 0  # one direction: nothing separates them


def test_a_word_of_several_pieces_gives_all_of_them_and_their_mean():
    offsets = [(0, 0), (0, 3), (4, 8), (9, 12), (12, 16), (0, 0)]
    assert word_positions("the bank robbery", offsets, "ROBBERY") == [[3, 4]]
    assert word_positions("the bank robbery", offsets, "ban") == []  # whole words only
    states = np.arange(2 * 6 * 2, dtype=np.float32).reshape(2, 6, 2)
    np.testing.assert_array_equal(word_state(states, [3, 4]), states[:, 3:5].mean(axis=1))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("7", "layer 7 is out of range: the model has layers 0..6"),
        ("1,x", "layer 'x' is not a number; give layers as numbers or ranges"),
        ("-1", "layer -1 is out of range"),
        (",", "layers names no layer"),
        ("+2", "layer '+2' is not a number"),
        ("\u0663", "layer '\u0663' is not a number"),  # an Arabic-Indic three
        ("6-2", "layer range '6-2' runs backwards"),
        ([None], "layers holds None"),
        (2.5, "layers must be a layer, a text like '0,3,6' or 'all', or a list, got 2.5"),
    ],
)
def test_bad_layers_are_refused(spec, message):
    with pytest.raises(InvalidArgument, match=re.escape(message)):
        parse_layers(spec, 6)


# --- MiniLM -----------------------------------------------------------------------------------------


def test_the_hidden_states_are_a_direct_transformers_pass(minilm):
    import torch
    from transformers import AutoModel, AutoTokenizer

    state_model, _ = minilm
    run = state_model.run(RIVER)
    tokenizer = AutoTokenizer.from_pretrained(default_source())
    model = AutoModel.from_pretrained(default_source()).eval()
    with torch.no_grad():
        out = model(**tokenizer(RIVER, return_tensors="pt"), output_hidden_states=True)
    assert run.states.shape == (7, len(run.ids), 384) and run.states.dtype == np.float32
    for layer, h in enumerate(out.hidden_states):
        np.testing.assert_allclose(run.states[layer], h[0].numpy(), rtol=1e-5, atol=1e-5)
    assert run.tokens[0] == "[CLS]" and run.special[0] and run.tokens[6] == "bank" and not run.special[6]


def test_the_nearest_tokens_of_real_states_are_a_brute_force_ranking(minilm, bank):
    state_model, vocab = minilm
    matrix = state_model.input_embeddings()
    run = state_model.run(ROBBERY)
    for entry in bank.texts[1]["states"][::3]:
        want, scores = brute_nearest(matrix, vocab.ids, run.states[entry["layer"], entry["position"]], 8)
        assert [n["id"] for n in entry["nearest"]] == want
        np.testing.assert_allclose([n["score"] for n in entry["nearest"]], scores, rtol=1e-4, atol=1e-5)


def test_bank_stays_itself_and_drifts_from_its_static_row(bank):
    for text in bank.texts:
        states = text["states"]
        assert [e["layer"] for e in states] == list(range(7)) and {e["token"] for e in states} == {"bank"}
        assert all(e["nearest"][0]["text"] == "bank" for e in states)  # first at every layer
        own = [e["own_cosine"] for e in states]
        assert own[0] > 0.9 and all(a > b for a, b in itertools.pairwise(own))  # decreasing with depth
        assert own[-1] < 0.5


def test_context_pulls_bank_toward_the_river_or_the_money(bank):
    def near(text: int, layer: int) -> set[str]:
        entry = next(e for e in bank.texts[text]["states"] if e["layer"] == layer)
        return {n["text"] for n in entry["nearest"]}

    assert "river" in near(0, 4) and "river" in near(0, 6) and "river" not in near(0, 0)
    assert near(1, 4) & {"money", "mortgage", "loans", "economy"} and near(2, 3) & {"money", "mortgage"}
    assert not near(1, 0) & {"money", "mortgage", "loans", "economy"}


def test_the_word_across_texts_is_compared_exactly(minilm, bank):
    state_model, _ = minilm
    a, b = state_model.run(RIVER), state_model.run(DEPOSIT)
    found = {(c["a"], c["b"], c["layer"]): c for c in bank.comparisons}
    assert len(found) == 3 * 7
    for layer in range(7):
        want = cosine(a.states[layer, 6], b.states[layer, 6])
        assert found[(0, 2, layer)]["cosine"] == pytest.approx(want, abs=1e-6)
    x, y = a.states[3, 6], b.states[3, 6]
    assert found[(0, 2, 3)]["cosine"] == pytest.approx(float(x @ y / np.linalg.norm(x) / np.linalg.norm(y)), abs=1e-5)
    assert found[(0, 2, 0)]["toward_a"] == []  # layer 0 is word + position embeddings: same word, same place
    assert len(found[(0, 1, 6)]["toward_a"]) == 8


def test_a_word_missing_from_a_text_is_named(minilm):
    state_model, vocab = minilm
    with pytest.raises(InvalidArgument, match=r"the word 'bank' is not in text 2 \('a river'\)"):
        explore(state_model, vocab, "m", [RIVER, "a river"], "bank", "0", 3)


def test_every_token_without_a_word(minilm):
    state_model, vocab = minilm
    data = explore(state_model, vocab, "m", ["the cat sat"], None, "0,6", 3)
    states = data.texts[0]["states"]
    assert [(e["layer"], e["token"]) for e in states] == [
        (0, "the"),
        (0, "cat"),
        (0, "sat"),
        (6, "the"),
        (6, "cat"),
        (6, "sat"),
    ]
    assert data.comparisons == [] and data.seconds[0] < 5


def test_own_cosine_is_the_cosine_to_the_input_row(minilm):
    state_model, vocab = minilm
    run = state_model.run("a cat")
    matrix = state_model.input_embeddings()
    got = own_cosine(vocab, run.states[2, 1:3], run.ids[1:3])
    for j, i in enumerate(run.ids[1:3]):
        assert got[j] == pytest.approx(cosine(run.states[2, 1 + j], matrix[i]), abs=1e-5)


# --- a decoder: tiny random Qwen2 ------------------------------------------------------------------


def test_a_tiny_qwen2_runs_the_same_way(qwen_folder):
    import torch

    folder, model, n_tokens = qwen_folder
    state_model = open_model(str(folder), device="cpu")
    vocab = vocabulary_of(state_model)
    assert len(vocab) == n_tokens  # the padding rows past the tokenizer are left out
    data = explore(state_model, vocab, "tiny", ["the cat sat on the mat", "cats and dogs"], None, "all", 4)
    run = state_model.run("the cat sat on the mat")
    with torch.no_grad():
        out = model.model(input_ids=torch.tensor([run.ids]), output_hidden_states=True)
    assert run.states.shape[0] == 3 == len(out.hidden_states)
    for layer, h in enumerate(out.hidden_states):
        np.testing.assert_allclose(run.states[layer], h[0].numpy(), rtol=1e-5, atol=1e-5)
    first = [e for e in data.texts[0]["states"] if e["layer"] == 0]
    assert all(e["own_cosine"] == pytest.approx(1.0, abs=1e-5) for e in first)  # a decoder's layer 0 is the row
    assert all(e["nearest"][0]["id"] == e["id"] for e in first)


def test_a_folder_without_the_layers_is_refused(tmp_path, qwen_folder):
    import shutil

    folder, _, _ = qwen_folder
    bare = tmp_path / "bare"
    shutil.copytree(folder, bare)
    for f in bare.glob("*.safetensors*"):
        f.unlink()
    from safetensors.torch import save_file

    save_file({"model.embed_tokens.weight": _embed(folder)}, str(bare / "model.safetensors"))
    with pytest.raises(
        EmbeddingsIncomplete, match=r"lack .* of the model's tensors .* give a folder with the whole model"
    ):
        open_model(str(bare), device="cpu")


def _embed(folder):
    import torch

    from atlas.files.model_files import read_embedding_matrix

    return torch.from_numpy(read_embedding_matrix(folder))
