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
        (("the bank", "--layers", "9"), "Error: layer 9 is out of range: this model has layers 0 (embeddings) to 6"),
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
            load(store, minilm_slice(layer_atlas, size=400, texts=("bank", "river", "money")), k=5)
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
                "load it with --vectors to rank the state itself against it",
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
    table = minilm_slice(layer_atlas, size=400, texts=("bank", "river", "money"))
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
