"""`atlas context` end to end: saving states in a real Neo4j (twice changes nothing), the page in real Chromium,
and the CLI's error lines."""

from __future__ import annotations

import uuid

import pytest
from chromium import CHROMIUM, Chromium
from conftest import error_line
from sample_models import ANALYSIS, minilm_slice

from atlas.files.model_files import BUNDLED
from atlas.files.text_states import open_model
from atlas.graph.store import Store
from atlas.loaders.pipeline import load
from atlas.views.context import explore, vocabulary_of

TEXTS = ("the bank robbery was on the news", "we sat on the river bank")
K = 4


@pytest.fixture(scope="module")
def context_model(neo4j_settings):
    """A MiniLM slice (real rows, source the bundled folder) holding every token the tests' states are near, analysed."""
    state_model = open_model(BUNDLED, device="cpu")
    data = explore(state_model, vocabulary_of(state_model), "m", list(TEXTS), None, "all", K)
    texts = {e["token"] for t in data.texts for e in t["states"]}
    texts |= {n["text"] for t in data.texts for e in t["states"] for n in e["nearest"]}
    name = f"t-context-{uuid.uuid4().hex[:8]}"
    with Store(neo4j_settings) as store:
        try:
            load(store, minilm_slice(name, size=1500, texts=tuple(sorted(texts))), k=5, analyse=ANALYSIS)
            yield name
        finally:
            store.delete_model(name)


def as_layer(table, layer: int):
    """``table`` recorded as a layer atlas of ``layer`` (its rows stay the input embeddings: what is checked is the
    record, the source and the tokens)."""
    import dataclasses

    return dataclasses.replace(table, layer=layer, method="rows of the static table, for the test")


def counts(driver, model: str) -> dict:
    records, _, _ = driver.execute_query(
        "MATCH (c:Context {model: $m}) "
        "OPTIONAL MATCH (c)-[n:NEAR]->(:Token {model: $m}) WITH c, count(n) AS near "
        "MATCH (c)-[:STATE_OF]->(t:Token {model: $m}) "
        "RETURN count(c) AS states, sum(near) AS near, count(DISTINCT t) AS tokens, "
        "collect(DISTINCT c.layer) AS layers",
        {"m": model},
    )
    return records[0].data()


def test_save_stores_each_state_with_its_nearest_tokens_once(run, context_model, neo4j_driver):
    args = ("context", *TEXTS, "--token", "bank", "--layers", "0,6", "--k", K, "--model", context_model, "--save")
    first = run(*args)
    assert first.exit_code == 0, first.stderr
    assert "MATCH (c:Context {model: " in first.stderr and '"bank" (position 2)' in first.stdout
    saved = counts(neo4j_driver, context_model)
    assert saved == {"states": 4, "near": 4 * K, "tokens": 1, "layers": saved["layers"]}
    assert sorted(saved["layers"]) == [0, 6]
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (c:Context {model: $m, layer: 0, position: 2})-[r:NEAR {rank: 1}]->(t:Token) RETURN t.text AS text,"
        " r.score AS score, c.text AS sentence",
        {"m": context_model},
    )
    assert [(r["text"], r["sentence"]) for r in records] == [("bank", TEXTS[0])] and records[0]["score"] > 0.9
    again = run(*args)
    assert again.exit_code == 0 and counts(neo4j_driver, context_model) == saved  # a second save changes nothing


def test_the_page_draws_every_layer_in_chromium(run, context_model, tmp_path):
    out = tmp_path / "context.html"
    result = run(
        "context", *TEXTS, "--token", "bank", "--k", K, "--model", context_model, "--format", "html", "-o", out
    )
    assert result.exit_code == 0, result.stderr
    page = out.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    with Chromium(tmp_path) as browser:
        tab = browser.new_page()
        tab.navigate(out.as_uri())
        tab.wait_for("!!document.body && document.body.dataset.paths !== undefined", "the page to draw")
        assert tab.evaluate("document.body.dataset.layers") == "7"
        assert tab.evaluate("document.body.dataset.paths") == "2"
        assert tab.evaluate("document.body.dataset.rows") == "14"
        assert "robbery" in tab.evaluate("document.getElementById('lists').textContent")
        assert browser.page_errors() == []


def test_untrusted_token_text_stays_text_on_the_page():
    from atlas.pages.context_page import render

    result = {
        "model": "m</script><b>",
        "word": "x",
        "k": 1,
        "layers": [0],
        "comparisons": [],
        "texts": [
            {
                "text": "<img src=x onerror=alert(1)>",
                "states": [
                    {
                        "position": 1,
                        "id": 5,
                        "token": "</script><script>alert(1)</script>",
                        "layer": 0,
                        "own_cosine": 1.0,
                        "nearest": [{"rank": 1, "id": 5, "text": "\u202eevil", "score": 1.0}],
                    }
                ],
            }
        ],
    }
    import numpy as np

    page = render(result, {5: (0.0, 0.0)}, np.zeros((0, 2)))
    assert "</script><script>" not in page and "<img src=x" not in page and "\u202e" not in page
    assert "<b>" not in page


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (("a river", "--token", "bank", "--layers", "0"), "Error: the word 'bank' is not in text 1 ('a river')"),
        (("the bank", "--layers", "9"), "Error: layer 9 is out of range: the model has layers 0..6"),
        (
            ("I love \U0001f99c birds", "--token", "\U0001f99c", "--layers", "0"),
            "Error: the word '\U0001f99c' is unknown to the tokenizer",
        ),
        (("the bank", "--format", "html"), "Error: --format html writes a page: give -o FILE (or -o - for stdout)"),
    ],
)
def test_bad_input_is_one_line(run, context_model, args, line):
    result = run("context", *args, "--model", context_model)
    assert error_line(result).startswith(line)


def test_a_model_that_is_not_stored_is_refused_before_anything_is_read(run):
    result = run("context", "the bank", "--model", f"t-context-missing-{uuid.uuid4().hex[:6]}", "--save")
    assert "is not loaded" in error_line(result)


def test_a_stored_layer_atlas_adds_its_view_and_the_others_are_a_note(context_model, neo4j_settings):
    from atlas import Atlas

    layer_atlas = f"{context_model}@6"
    with Store(neo4j_settings) as store:
        try:
            load(store, as_layer(minilm_slice(layer_atlas, size=400, texts=("bank", "river", "money")), 6), k=5)
            with Atlas(settings=neo4j_settings, model=context_model) as face:
                found = face.context(TEXTS[1], token="bank", layers="0,6", k=3)
            at = {e["layer"]: e for e in found.texts[0]["states"]}
            assert "atlas" not in at[0] and [r["rank"] for r in at[6]["atlas"]] == [1, 2, 3]
            stored = store.read("neighbours", model=layer_atlas, id=at[6]["id"], k=3)
            assert [r["id"] for r in at[6]["atlas"]] == [r["id"] for r in stored]
            assert found.layer_atlas == [
                {"layer": 0, "model": f"{context_model}@0", "stored": False},
                {"layer": 6, "model": layer_atlas, "stored": True},
            ]
            assert found.notes == [
                f"no layer atlas is stored for layer 0 (models named {context_model}@0 ...); only the static atlas is compared",
                "the layer atlas of layer 6 has no vectors: its lines (@L) are its stored neighbours of the token alone; "
                "load it with vectors=True (--vectors) to rank the state itself against it",
            ]
            assert at[6]["atlas_by"] == "token"
            assert "@6" in str(found)
        finally:
            store.delete_model(layer_atlas)


def test_a_layer_atlas_with_vectors_ranks_the_state_itself(context_model, neo4j_settings):
    """With the layer atlas's vectors stored, its lines are the exact nearest of the contextual state among them."""
    import numpy as np

    from atlas import Atlas

    layer_atlas = f"{context_model}@6"
    table = as_layer(minilm_slice(layer_atlas, size=400, texts=("bank", "river", "money")), 6)
    with Store(neo4j_settings) as store:
        try:
            load(store, table, k=5, vectors=True)
            with Atlas(settings=neo4j_settings, model=context_model) as face:
                found = face.context(TEXTS[1], token="bank", layers="6", k=4)
            [entry] = found.texts[0]["states"]
            assert entry["atlas_by"] == "state" and not any("no vectors" in n for n in found.notes)
            run = open_model(BUNDLED).run(TEXTS[1])
            state = run.states[6][entry["position"]].astype(np.float64)  # (d,)
            unit = table.matrix / np.linalg.norm(table.matrix, axis=1, keepdims=True)
            cosine = unit @ (state / np.linalg.norm(state))
            best = np.lexsort((table.ids, -cosine))[:4]
            assert [r["id"] for r in entry["atlas"]] == [int(table.ids[i]) for i in best]
            np.testing.assert_allclose([r["score"] for r in entry["atlas"]], cosine[best], atol=1e-4)
        finally:
            store.delete_model(layer_atlas)


@pytest.mark.parametrize("kind", ["static", "other vocabulary", "other source"])
def test_a_model_named_like_a_layer_atlas_that_is_not_one_is_not_used(context_model, neo4j_settings, kind):
    import dataclasses

    from atlas import Atlas

    name = f"{context_model}@6"
    table = minilm_slice(name, size=400, texts=("bank", "river", "money"))
    why = "it records no layer (a model loaded under that name, not a layer atlas)"
    if kind == "other vocabulary":  # same ids, other texts: the neighbours of another token
        table = dataclasses.replace(as_layer(table, 6), text=list(reversed(table.text)))
        why = "is 'bank'"  # its token of bank's id is another text
    elif kind == "other source":
        table = dataclasses.replace(as_layer(table, 6), source="/elsewhere/model")
        why = "it was made from '/elsewhere/model'"
    with Store(neo4j_settings) as store:
        try:
            load(store, table, k=5)
            with Atlas(settings=neo4j_settings, model=context_model) as face:
                found = face.context(TEXTS[1], token="bank", layers="6", k=3)
            assert "atlas" not in found.texts[0]["states"][0]
            assert found.layer_atlas == [{"layer": 6, "model": name, "stored": False}]
            note = next(n for n in found.notes if n.startswith(f"model {name!r} is not used as layer 6's atlas"))
            assert (why in note) if kind != "other vocabulary" else ("another tokenizer" in note), note
        finally:
            store.delete_model(name)


def test_context_refuses_a_layer_atlas_as_its_model(run, context_model, neo4j_settings):
    name = f"{context_model}@6"
    with Store(neo4j_settings) as store:
        try:
            load(store, as_layer(minilm_slice(name, size=400, texts=("bank",)), 6), k=5)
            line = error_line(run("context", "the bank", "--model", name, "--save"))
        finally:
            store.delete_model(name)
    assert line.startswith(f"Error: model {name!r} is a layer atlas (hidden states at layer 6): `atlas context` reads")


def test_a_word_unknown_to_the_tokenizer_is_said_without_token_too(context_model, neo4j_settings):
    from atlas import Atlas

    with Atlas(settings=neo4j_settings, model=context_model) as face:
        found = face.context("I love \U0001f99c birds", layers=0, k=2)
    assert found.notes[0] == (
        "text 1: '\U0001f99c' is unknown to the tokenizer (read as its unknown token) and left out"
    )


def test_a_token_named_like_a_placeholder_stays_in_its_place_on_the_page():
    import numpy as np

    from atlas.pages.context_page import render

    result = {
        "model": "m",
        "word": "__DATA__",
        "k": 1,
        "layers": [0],
        "comparisons": [],
        "texts": [{"text": "__DATA__ __TITLE__", "states": []}],
    }
    page = render(result, {}, np.zeros((0, 2)))
    title = page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title == "__DATA__ through the layers of m"
    assert page.count('"model"') == 1  # the page's JSON once, in its script


def test_a_text_past_the_model_length_is_one_line_on_stderr(context_model, neo4j_settings):
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "NEO4J_URI": neo4j_settings.uri,
        "NEO4J_USER": neo4j_settings.user,
        "NEO4J_PASSWORD": neo4j_settings.password,
        "NEO4J_DATABASE": neo4j_settings.database,
    }
    cli = [sys.executable, "-c", "from atlas.cli import main; main()"]
    done = subprocess.run(
        [*cli, "context", "the bank " * 400, "--model", context_model], env=env, capture_output=True, text=True
    )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Error: the text has 802 tokens, more than the model's 512; give a shorter one"
    ]
