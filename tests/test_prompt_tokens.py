"""Prompt tokens and their embedding rows: tokenize, token_table and read_rows, without a database."""

from __future__ import annotations

import numpy as np
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers

from atlas.core.prompt_tokens import PromptToken, token_table, tokenize
from atlas.errors import InvalidArgument
from atlas.files.model_files import (
    _runs,
    default_source,
    load_tokenizer,
    read_embedding_matrix,
    read_rows,
    read_tokenizer,
    resolve,
)

ARTICLE = "HTML coders are not considered programmers"
ARTICLE_IDS = [16129, 3642, 2869, 2024, 2025, 2641, 28547]
ARTICLE_PIECES = ["html", "code", "##rs", "are", "not", "considered", "programmers"]


@pytest.fixture(scope="module")
def minilm_tokenizer():
    return load_tokenizer(default_source())


@pytest.fixture(scope="module")
def minilm_matrix():
    return read_embedding_matrix(resolve(default_source()))  # (30522, 384)


def test_tokenize_article_sentence(minilm_tokenizer):
    tokens = tokenize(minilm_tokenizer, ARTICLE)
    assert [t.position for t in tokens] == list(range(7))
    assert [t.id for t in tokens] == ARTICLE_IDS
    assert [t.piece for t in tokens] == ARTICLE_PIECES
    assert [t.text for t in tokens] == ARTICLE_PIECES  # WordPiece text is the piece
    assert minilm_tokenizer.decode([t.id for t in tokens]) == ARTICLE.lower()


def test_tokenize_with_special_tokens(minilm_tokenizer):
    tokens = tokenize(minilm_tokenizer, ARTICLE, include_special=True)
    assert [t.id for t in tokens] == [minilm_tokenizer.cls_token_id, *ARTICLE_IDS, minilm_tokenizer.sep_token_id]
    assert [t.piece for t in tokens][:: len(tokens) - 1] == ["[CLS]", "[SEP]"]
    assert [t.position for t in tokens] == list(range(9))


def test_tokenize_accepts_a_tokenizers_tokenizer(minilm_tokenizer):
    for include_special in (False, True):
        assert tokenize(minilm_tokenizer.backend_tokenizer, ARTICLE, include_special) == tokenize(
            minilm_tokenizer, ARTICLE, include_special
        )


def test_tokenize_byte_level_gives_readable_text():
    tok = Tokenizer(models.WordLevel({"hi": 0, "Ġthere": 1, "Ċ": 2, "[UNK]": 3}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tokens = tokenize(tok, "hi there\n")
    assert [(t.id, t.piece, t.text) for t in tokens] == [(0, "hi", "hi"), (1, "Ġthere", " there"), (2, "Ċ", "\n")]


def test_tokenize_empty_text(minilm_tokenizer):
    assert tokenize(minilm_tokenizer, "") == []


def test_token_table_against_the_matrix(minilm_tokenizer, minilm_matrix):
    tokens = tokenize(minilm_tokenizer, ARTICLE)
    by_id = {t.id: minilm_matrix[t.id] for t in tokens}
    aligned = minilm_matrix[[t.id for t in tokens]]
    for rows in (by_id, aligned):
        table = token_table(tokens, rows)
        assert [r["position"] for r in table] == list(range(7))
        assert [r["id"] for r in table] == ARTICLE_IDS
        assert [r["token"] for r in table] == ARTICLE_PIECES
        for r in table:
            assert r["first"] == minilm_matrix[r["id"], :3].tolist()
            assert r["last"] == minilm_matrix[r["id"], -3:].tolist()
            assert all(type(x) is float for x in r["first"] + r["last"])
    wide = token_table(tokens, by_id, edge=5)
    assert all(len(r["first"]) == len(r["last"]) == 5 for r in wide)


def test_token_table_short_vectors_and_piece_fallback():
    tokens = [PromptToken(0, 4, "Ġx")]
    table = token_table(tokens, {4: np.array([1.0, 2.0])}, edge=3)
    assert table == [{"position": 0, "id": 4, "token": "Ġx", "first": [1.0, 2.0], "last": [1.0, 2.0]}]


def test_token_table_errors():
    tokens = [PromptToken(0, 4, "a"), PromptToken(1, 5, "b")]
    with pytest.raises(InvalidArgument, match=r"one embedding row per prompt token \(2\)"):
        token_table(tokens, np.zeros((3, 4)))
    with pytest.raises(InvalidArgument, match=r"no embedding row for token ids \[5\]"):
        token_table(tokens, {4: np.zeros(4)})
    with pytest.raises(InvalidArgument, match="at least 1"):
        token_table(tokens, np.zeros((2, 4)), edge=0)


def test_read_rows_matches_the_full_matrix(minilm_matrix):
    ids = [28547, 3, 4, 5, 16129, 4, 0, 30521, 2869]  # out of order, a repeat, runs, both ends
    rows = read_rows(default_source(), ids)
    assert rows.dtype == np.float32 and rows.shape == (len(ids), 384)
    np.testing.assert_array_equal(rows, minilm_matrix[ids])


def test_read_rows_sharded_checkpoint(qwen_folder):
    folder, model, n_tokens = qwen_folder
    assert (folder / "model.safetensors.index.json").is_file()
    weights = model.get_input_embeddings().weight.detach().numpy()
    ids = [0, n_tokens - 1, 7, 8, 9, 2]
    np.testing.assert_array_equal(read_rows(str(folder), ids), weights[ids])
    assert read_rows(str(folder), []).shape == (0, weights.shape[1])


def test_read_rows_rejects_ids_past_the_matrix():
    with pytest.raises(InvalidArgument, match=r"token ids \[30522\] are past the end .* \(30522 rows\)"):
        read_rows(default_source(), [1, 30522])
    with pytest.raises(InvalidArgument, match="cannot be negative"):
        read_rows(default_source(), [-1])


@pytest.mark.parametrize(
    "ids,runs",
    [
        ([], []),
        ([5], [(5, 6)]),
        ([1, 2, 3, 7, 9, 10], [(1, 4), (7, 8), (9, 11)]),
        ([0, 2, 4], [(0, 1), (2, 3), (4, 5)]),
    ],
)
def test_runs(ids, runs):
    assert _runs(ids) == runs


@pytest.mark.parametrize("include_special", [False, True])
def test_read_tokenizer_splits_like_transformers(minilm_tokenizer, include_special):
    """The fast path (tokenizers, no transformers) gives the same tokens, also past the saved padding length of 128."""
    fast = read_tokenizer(default_source())
    for text in (ARTICLE, "", "a list of lists " * 60, "Straße\tcafé\n日本語 🙂 [CLS] x"):
        assert tokenize(fast, text, include_special, family="wordpiece") == tokenize(
            minilm_tokenizer, text, include_special
        )
