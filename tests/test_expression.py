"""`atlas near`: vector arithmetic over a stored model's whole vocabulary, through the CLI on a real Neo4j."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from conftest import error_line

from atlas.core.subgraph import Edge, Node, Subgraph
from atlas.files.model_files import default_source, read_embedding_matrix, safetensors_keys
from atlas.loaders import load_embedding_table
from atlas.pages.export import FORMATS, render
from atlas.views.expression import EXPRESSION_ID


def near_json(run, *args) -> dict:
    result = run("near", *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


# --- MiniLM ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression", ["1e308*king - 1e308*man + 1e308*woman", "1e-320*king - 1e-320*man + 1e-320*woman"]
)
def test_weights_of_any_finite_size_give_the_same_neighbours(run, whole_minilm, expression):
    got = near_json(run, expression, "--model", whole_minilm, "--k", 3)
    assert [n["text"] for n in got["neighbours"]] == ["queen", "kings", "monarch"]


def test_king_minus_man_plus_woman_is_queen(run, whole_minilm):
    result = run("near", "king - man + woman", "--model", whole_minilm)
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["rank", "id", "score", "token"]
    assert lines[1].split()[0] == "1" and lines[1].split()[-1] == '"queen"'
    assert [line.split()[-1] for line in lines[1:6]] == ['"queen"', '"kings"', '"monarch"', '"monarchy"', '"queens"']
    assert result.stderr.startswith(
        f'nearest tokens to "king - man + woman" in {whole_minilm} (30,522 rows compared in '
    )
    assert (
        'the operands ("king", "man", "woman") are left out, keep_operands=True (--keep-operands) keeps them'
        in result.stderr
    )


@pytest.mark.parametrize(
    "expression, first",
    [
        ("paris - france + italy", ["italian", "rome", "florence", "milan"]),
        ("walking - walk + swim", ["swimming", "swimmers", "swam"]),
    ],
)
def test_more_analogies(run, whole_minilm, expression, first):
    got = near_json(run, expression, "--model", whole_minilm, "--k", len(first))
    assert [n["text"] for n in got["neighbours"]] == first


def test_answer_equals_brute_force_over_the_whole_matrix(run, whole_minilm):
    table = load_embedding_table(default_source())
    unit = table.matrix / np.linalg.norm(table.matrix, axis=1, keepdims=True)
    row = {t: i for i, t in enumerate(table.text)}
    query = unit[row["king"]] - 0.5 * unit[row["man"]] + 2 * unit[row["woman"]]
    scores = unit @ (query / np.linalg.norm(query))
    order = [int(i) for i in np.lexsort((table.ids, -scores)) if int(i) not in {row["king"], row["man"], row["woman"]}][
        :15
    ]
    got = near_json(run, "king - 0.5*man + 2*woman", "--model", whole_minilm, "--k", 15)
    assert got["expression"] == "king - 0.5*man + 2*woman"
    assert [n["id"] for n in got["neighbours"]] == table.ids[order].tolist()
    np.testing.assert_allclose([n["score"] for n in got["neighbours"]], scores[order], atol=1e-5)
    assert [n["rank"] for n in got["neighbours"]] == list(range(1, 16))
    assert got["left_out"] == sorted(table.ids[[row["king"], row["man"], row["woman"]]].tolist())


def test_keep_operands(run, whole_minilm):
    got = near_json(run, "king + 0.1*queen", "--model", whole_minilm, "--k", 3, "--keep-operands")
    assert got["neighbours"][0]["text"] == "king" and got["left_out"] == []
    result = run("near", "king + 0.1*queen", "--model", whole_minilm, "--k", 3, "--keep-operands")
    assert 'the operands ("king", "queen") are kept' in result.stderr


def test_a_quoted_text_of_several_tokens_is_their_mean(run, whole_minilm):
    got = near_json(run, '"artificial intelligence" - intelligence', "--model", whole_minilm, "--k", 3)
    assert [t["text"] for t in got["operands"][0]["tokens"]] == ["artificial", "intelligence"]
    assert got["operands"][0]["quoted"] is True
    assert {n["text"] for n in got["neighbours"]}.isdisjoint({"artificial", "intelligence"})
    # a quoted single token is that token, spelled as the model spells it
    assert (
        near_json(run, '"king" - man', "--model", whole_minilm)["neighbours"]
        == near_json(run, "king - man", "--model", whole_minilm)["neighbours"]
    )


@pytest.mark.parametrize("fmt", ["html", "graphml", "json", "csv"])
def test_exports_the_expression_with_its_nearest_tokens(run, whole_minilm, tmp_path, fmt):
    out = tmp_path / f"near.{fmt}"
    result = run("near", "king - man + woman", "--model", whole_minilm, "--k", 5, "--format", fmt, "-o", out)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    if fmt == "csv":
        assert (tmp_path / "near.nodes.csv").read_text().splitlines()[1].startswith("-1,king - man + woman,")
        return
    text = out.read_text(encoding="utf-8")
    assert "king - man + woman" in text
    if fmt == "json":
        import networkx as nx

        graph = nx.node_link_graph(json.loads(text), edges="links")
        assert graph.nodes[-1]["text"] == "king - man + woman" and graph.nodes[-1]["seed"]
        assert sorted(graph.successors(-1), key=lambda n: graph.edges[-1, n]["rank"])[0] == 3035  # queen
        assert len(graph) == 6
        tokens = [n for n in graph if n != -1]
        assert all(not graph.nodes[n]["seed"] for n in tokens)
        assert all(graph.edges[a, b]["rank"] <= 5 for a, b in graph.edges if a != -1)  # stored edges among them


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_exporter_takes_the_expression_node(fmt):
    expression = 'king - man + "artificial intelligence"'
    subgraph = Subgraph(
        "m",
        f"nearest tokens to {expression}",
        [Node(EXPRESSION_ID, expression, seed=True), Node(3035, "queen"), Node(5465, "kings")],
        [Edge(EXPRESSION_ID, 3035, 0.5, 1), Edge(EXPRESSION_ID, 5465, 0.45, 2), Edge(5465, 3035, 0.7, 1)],
    )
    parts = render(subgraph, fmt)
    text = "".join(parts.values())
    assert "-1" in text and ("artificial intelligence" in text)


def test_json_and_format_are_one_or_the_other(run, whole_minilm):
    assert error_line(run("near", "king", "--model", whole_minilm, "--json", "--format", "html")) == (
        "Error: give --json or --format, not both"
    )


@pytest.mark.parametrize(
    "expression, message",
    [
        ("king - ", "expected a token after '-' at position 8, found the end of the expression"),
        ("king - + woman", "expected a token after '-' at position 8, found '+'"),
        ("king woman", "expected '+' or '-' at position 6, found 'woman'"),
        ('king + "woman', 'the quote at position 8 is never closed; end the text with "'),
        ("", 'the expression is empty; write one like "king - man + woman"'),
        ("king - king", "the expression is the zero vector (its terms cancel out); it has no nearest tokens"),
        ("0*king", "the expression is the zero vector (its terms cancel out); it has no nearest tokens"),
        (
            "9" * 400 + "*king + woman",
            "the weight 999999999999… of 'king' at position 402 is not a finite number (a float holds up to about "
            "1.8e308); write a smaller weight",
        ),
        (
            "woman + " + "9" * 400 + "*king",
            "the weight 999999999999… of 'king' at position 410 is not a finite number (a float holds up to about "
            "1.8e308); write a smaller weight",
        ),
    ],
)
def test_errors_are_one_line(run, whole_minilm, expression, message):
    assert error_line(run("near", expression, "--model", whole_minilm)) == f"Error: {message}"


def test_unknown_operand_names_close_tokens(run, whole_minilm):
    line = error_line(run("near", "king - kingz", "--model", whole_minilm))
    assert line.startswith("Error: 'kingz' at position 8 is not a token of ")
    assert "close tokens: 'king', " in line
    assert line.endswith('; or write "kingz" in double quotes for the mean of its tokens')


def test_k_must_be_positive(run, whole_minilm):
    assert error_line(run("near", "king", "--model", whole_minilm, "--k", 0)) == "Error: k must be at least 1, got 0"


# --- a byte-level model with padding rows and a zero row ------------------------------------------


@pytest.fixture
def tricky_qwen(run, qwen_folder, model_name, tmp_path):
    """The tiny Qwen whose padding rows all copy the row of " cat" and whose token " dogs" has a zero row, loaded."""
    from safetensors.numpy import load_file, save_file

    folder = shutil.copytree(qwen_folder[0], tmp_path / "tricky-qwen")
    table = load_embedding_table(str(folder))
    name = "model.embed_tokens.weight"
    shard = safetensors_keys(folder)[name]
    tensors = load_file(shard)
    matrix = tensors[name]
    cat, zero = int(table.ids[table.raw.index("Ġcat")]), int(table.ids[table.raw.index("Ġdogs")])
    matrix[qwen_folder[2] :] = matrix[cat]
    matrix[zero] = 0.0
    save_file(tensors, shard, metadata={"format": "pt"})
    assert run("load", folder, "--name", model_name, "--k", 3, "--quiet").exit_code == 0
    return model_name, folder, qwen_folder[2], cat, zero


def test_padding_and_zero_rows_never_come_out(run, tricky_qwen):
    name, folder, n_tokens, cat, zero = tricky_qwen
    got = near_json(run, "cat", "--model", name, "--k", n_tokens, "--keep-operands")
    ids = [n["id"] for n in got["neighbours"]]
    assert got["operands"][0]["tokens"] == [{"id": cat, "text": " cat"}]  # the word resolves to its word-start token
    assert ids[0] == cat and len(ids) == len(set(ids)) == n_tokens - 1  # every token but the zero row
    assert zero not in ids and max(ids) < n_tokens  # no padding row, though every one scores 1.0

    matrix = read_embedding_matrix(folder, "model.embed_tokens.weight")[:n_tokens]
    norms = np.linalg.norm(matrix, axis=1)
    scores = np.where(norms > 0, matrix @ matrix[cat] / np.maximum(norms, 1e-30) / norms[cat], -np.inf)
    np.testing.assert_allclose([n["score"] for n in got["neighbours"]], scores[ids], atol=1e-5)
    assert (np.diff([n["score"] for n in got["neighbours"]]) <= 1e-7).all()


def test_an_operand_with_a_zero_row_has_no_direction(run, tricky_qwen):
    name = tricky_qwen[0]
    line = error_line(run("near", "cat - dogs", "--model", name))
    assert line == (
        "Error: operand 'dogs' at position 7 has no direction (the embedding rows of ' dogs' are zero or cancel out); "
        "leave it out"
    )


def test_model_whose_source_is_gone(run, qwen_folder, model_name, tmp_path):
    folder = shutil.copytree(qwen_folder[0], tmp_path / "moved-away")
    assert run("load", folder, "--name", model_name, "--k", 2, "--quiet").exit_code == 0
    shutil.rmtree(folder)
    assert error_line(run("near", "cat - list", "--model", model_name)) == (
        f"Error: model {model_name!r} was loaded from {str(folder)!r}, which cannot be read now; put the model back "
        f"there, or load it again from where it is with `atlas load SOURCE --name {model_name} --replace`"
    )


def test_suggestions_for_a_long_unknown_word_cost_one_statement(run, whole_minilm, monkeypatch):
    """Close tokens are found in one statement however long the word: not two per letter dropped."""
    from atlas.graph.store import Store

    real, statements = Store.read, []

    def counted(self, statement, /, **params):
        statements.append(statement)
        return real(self, statement, **params)

    monkeypatch.setattr(Store, "read", counted)
    line = error_line(run("near", "king - kingz", "--model", whole_minilm))
    assert "close tokens: 'king', " in line
    short = len(statements)
    statements.clear()
    word = "kingdom" + "x" * 293  # 300 characters
    line = error_line(run("near", f"king - {word}", "--model", whole_minilm))
    assert "close tokens: 'kingdom'" in line
    assert len(statements) == short, statements
    assert statements.count("token_suggestions") == 1, statements
