"""`atlas compare` end to end on a real Neo4j: two stored models, their SAME_TOKEN links and Comparison node
checked against the pure functions on the stored graphs and against Python sets; the CLI; the page in Chromium."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

import numpy as np
import pytest
from chromium import CHROMIUM, Chromium
from conftest import error_line
from sample_models import ANALYSIS, minilm_slice

from atlas import Atlas
from atlas.core.overlap import match_tokens, overlaps, same_tokenizer
from atlas.errors import InvalidArgument, ModelNotLoaded
from atlas.graph.stored_graph import read_graph
from atlas.loaders.pipeline import load

K = 8
PREFIX = "t-compare"


def perturbed(table, name: str, seed: int = 1, scale: float = 0.6):
    """The same tokens with a seeded perturbation of their vectors: another model with the same tokenizer."""
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal(table.matrix.shape).astype(np.float32) * table.matrix.std() * scale
    return replace(table, name=name, matrix=table.matrix + noise)


def respelled(table, name: str):
    """Another tokenizer: ids moved, every 7th token capitalised (found again by its variant key), every 11th left out."""
    keep = [r for r in range(len(table)) if r % 11 != 5]
    spell = lambda r, s: s.upper() if r % 7 == 3 and not s.startswith("##") else s  # noqa: E731
    return replace(
        table,
        name=name,
        matrix=np.ascontiguousarray(table.matrix[keep]),
        ids=table.ids[keep] + 100_000,
        raw=[spell(r, table.raw[r]) for r in keep],
        text=[spell(r, table.text[r]) for r in keep],
        special=[table.special[r] for r in keep],
    )


@pytest.fixture(scope="module")
def models(store):
    """A: a MiniLM slice (analysed); B: A perturbed (analysed); C: A respelled (not analysed). Names a, b, c."""
    tag = uuid.uuid4().hex[:8]
    a = minilm_slice(f"{PREFIX}-a-{tag}", size=1200)
    tables = {
        "a": (a, ANALYSIS),
        "b": (perturbed(a, f"{PREFIX}-b-{tag}"), ANALYSIS),
        "c": (respelled(a, f"{PREFIX}-c-{tag}"), None),
    }
    try:
        for table, analysis in tables.values():
            load(store, table, K, analyse=analysis)
        yield {key: table.name for key, (table, _) in tables.items()}
    finally:
        for table, _ in tables.values():
            store.delete_model(table.name)


@pytest.fixture(scope="module")
def atlas(neo4j_settings):
    with Atlas(settings=neo4j_settings) as atlas:
        yield atlas


def stored_links(store, a: str, b: str) -> dict[int, dict]:
    rows = store.driver.execute_query(
        "MATCH (x:Token {model: $a})-[s:SAME_TOKEN]->(y:Token {model: $b}) "
        "RETURN x.id AS a, y.id AS b, s.matched_by AS by, s.jaccard AS jaccard, s.rbo AS rbo, s.k AS k",
        {"a": a, "b": b},
        database_=store.database,
    )[0]
    found = {r["a"]: r.data() for r in rows}
    assert len(found) == len(rows)  # one link per token of A
    return found


def comparison_nodes(store, a: str, b: str) -> list[dict]:
    rows = store.driver.execute_query(
        "MATCH (c:Comparison {a: $a, b: $b}) "
        "RETURN c {.*} AS c, [(c)-[r:COMPARES]->(m:Model) | [r.side, m.name]] AS models",
        {"a": a, "b": b},
        database_=store.database,
    )[0]
    return [{**r["c"], "models": sorted(r["models"])} for r in rows]


def expected(store, a: str, b: str, k: int):
    """The pure functions on both stored graphs, and the same by Python sets, per A token id."""
    ga, gb = read_graph(store, a), read_graph(store, b)
    same = same_tokenizer(ga.props["family"], ga.ids, ga.text, gb.props["family"], gb.ids, gb.text)
    m = match_tokens(ga.text, ga.keys, gb.text, gb.keys, same)
    jac, rbo = overlaps(ga.neighbours, gb.neighbours, m, k)
    pure = {int(ga.ids[ra]): (int(gb.ids[rb]), j, r) for ra, rb, j, r in zip(m.a_rows, m.b_rows, jac, rbo)}
    partner = {int(ga.ids[ra]): int(gb.ids[rb]) for ra, rb in zip(m.a_rows, m.b_rows)}
    sets = {}
    for ra, rb in zip(m.a_rows, m.b_rows):
        near_a = {partner.get(int(ga.ids[n]), -1 - int(n)) for n in ga.neighbours[ra, :k] if n >= 0}
        near_b = {int(gb.ids[n]) for n in gb.neighbours[rb, :k] if n >= 0}
        sets[int(ga.ids[ra])] = len(near_a & near_b) / len(near_a | near_b)
    return m, pure, sets


def test_same_tokenizer_pairs_by_id_and_stores_what_the_pure_functions_give(atlas, store, models):
    found = atlas.compare(models["a"], models["b"], top=5)
    links = stored_links(store, models["a"], models["b"])
    _, pure, sets = expected(store, models["a"], models["b"], K)
    assert found.figures["matched"] == found.figures["matched_by_id"] == len(links) == 1200
    assert set(links) == set(pure)
    for token, link in links.items():
        b, jaccard, rbo = pure[token]
        assert (link["b"], link["by"], link["k"]) == (b, "id", K)
        assert link["jaccard"] == jaccard and link["rbo"] == rbo
        assert link["jaccard"] == pytest.approx(sets[token], abs=1e-12)
    jac = np.array([v[1] for v in pure.values()])
    rbo = np.array([v[2] for v in pure.values()])
    assert 0.05 < jac.mean() < 0.95 and (rbo < 1).any()  # the perturbation changed some neighbourhoods, not all
    (node,) = comparison_nodes(store, models["a"], models["b"])
    assert node["mean_jaccard"] == pytest.approx(jac.mean()) and node["mean_rbo"] == pytest.approx(rbo.mean())
    assert node["k"] == K and node["matched_by_id"] == 1200 and node["unmatched_a"] == 0
    assert node["models"] == [["a", models["a"]], ["b", models["b"]]]
    assert sum(node["jaccard_histogram"]) == 1200 and len(node["rbo_deciles"]) == 11
    assert found.changed_most[0]["rbo"] <= found.changed_least[-1]["rbo"]
    assert [r["rbo"] for r in found.changed_most] == sorted(r["rbo"] for r in found.changed_most)
    assert found.communities and 0 < found.figures["held_together"] <= 1
    assert all(0 < r["share"] <= 1 and r["held"] <= r["members"] for r in found.communities)
    assert len(found.to_pandas()) == 1200
    text = str(found)
    assert "1,200 tokens matched (1,200 by id, 0 by text, 0 by variant key)" in text and "communities of" in text


def test_comparing_again_replaces_and_another_k_rewrites(atlas, store, models):
    atlas.compare(models["a"], models["b"])
    again = atlas.compare(models["a"], models["b"], k=3)
    links = stored_links(store, models["a"], models["b"])
    assert len(links) == 1200 and {link["k"] for link in links.values()} == {3}
    _, pure, _ = expected(store, models["a"], models["b"], 3)
    assert all(links[t]["rbo"] == pure[t][2] for t in links)
    (node,) = comparison_nodes(store, models["a"], models["b"])
    assert node["k"] == 3 and node["mean_rbo"] == pytest.approx(again.figures["mean_rbo"])


def test_a_model_against_itself_overlaps_exactly_one(atlas, store, models):
    found = atlas.compare(models["a"], models["a"])
    links = stored_links(store, models["a"], models["a"])
    assert len(links) == 1200
    assert {(link["jaccard"], link["rbo"], link["by"]) for link in links.values()} == {(1.0, 1.0, "id")}
    assert all(link["a"] == link["b"] for link in links.values())
    assert found.figures["mean_jaccard"] == found.figures["mean_rbo"] == 1.0
    assert found.figures["held_together"] == 1.0


def test_another_tokenizer_pairs_by_text_then_variant_key(atlas, store, models):
    found = atlas.compare(models["a"], models["c"], top=4)
    m, pure, sets = expected(store, models["a"], models["c"], K)
    links = stored_links(store, models["a"], models["c"])
    counts = m.counts()
    assert counts["id"] == 0 and counts["text"] > 900 and counts["variant"] > 50
    assert (
        found.figures["matched_by_text"] == counts["text"] and found.figures["matched_by_variant"] == counts["variant"]
    )
    assert set(links) == set(pure) and all(links[t]["jaccard"] == pure[t][1] for t in links)
    assert all(links[t]["jaccard"] == pytest.approx(sets[t], abs=1e-12) for t in links)
    assert found.unmatched_a["count"] == len(m.unmatched_a) > 0 and len(found.unmatched_a["tokens"]) == 4
    assert found.communities is None and "has no analysis" in str(found)


def test_deleting_either_model_deletes_its_comparisons(atlas, store, models):
    table = minilm_slice(f"{PREFIX}-gone-{uuid.uuid4().hex[:8]}", size=300)
    load(store, table, K)
    try:
        found = atlas.compare(models["a"], table.name)
        atlas.compare(table.name, models["a"])
        assert len(stored_links(store, models["a"], table.name)) == found.figures["matched"] > 0
        assert len(comparison_nodes(store, table.name, models["a"])) == 1
    finally:
        atlas.delete(table.name)
    assert stored_links(store, models["a"], table.name) == {}
    assert comparison_nodes(store, models["a"], table.name) == comparison_nodes(store, table.name, models["a"]) == []


def test_bad_input_is_refused_before_anything_is_written(atlas, store, models):
    with pytest.raises(ModelNotLoaded, match="model 'no such model' is not loaded"):
        atlas.compare(models["a"], "no such model")
    with pytest.raises(InvalidArgument, match=r"k must be between 1 and 8, the neighbours both models hold"):
        atlas.compare(models["a"], models["b"], k=9)
    with pytest.raises(InvalidArgument, match="top must be at least 1"):
        atlas.compare(models["a"], models["b"], top=0)


# --- the command --------------------------------------------------------------------------


def test_cli_prints_the_summary_and_json(run, models):
    result = run("compare", models["a"], models["b"], "--top", "3", "--quiet")
    assert result.exit_code == 0, result.output
    assert "against" in result.stdout and "changed most" in result.stdout and "p90" in result.stdout
    as_json = run("compare", models["a"], models["b"], "--k", "4", "--json", "--quiet")
    data = json.loads(as_json.stdout)
    assert data["k"] == 4 and data["matched_by_id"] == 1200 and len(data["jaccard_deciles"]) == 11
    assert len(data["changed_most"]) == 10 and data["communities"]


@pytest.mark.parametrize(
    "args, line",
    [
        (["no such model"], "Error: model 'no such model' is not loaded"),
        (["{b}", "--k", "30"], "Error: k must be between 1 and 8, the neighbours both models hold"),
        (
            ["{b}", "--format", "html"],
            "Error: --format html draws one token's two neighbourhoods: give it with --token",
        ),
        (["{b}", "--format", "html", "--token", "qqqzzzx"], "Error: token 'qqqzzzx' is not in the vocabulary of"),
    ],
)
def test_cli_bad_input_is_one_line(run, models, args, line):
    result = run("compare", models["a"], *[a.format(**models) for a in args])
    assert error_line(result).startswith(line)


def test_cli_compares_a_model_with_itself(run, models):
    data = json.loads(run("compare", models["c"], models["c"], "--json", "--quiet").stdout)
    assert data["mean_jaccard"] == data["mean_rbo"] == 1.0 and data["matched_by_id"] == data["tokens_a"]


@pytest.mark.browser
@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_the_token_page_shows_both_neighbourhoods_in_chromium(run, models, tmp_path, atlas):
    page = tmp_path / "cat.html"
    result = run("compare", models["a"], models["b"], "--format", "html", "--token", "cat", "-o", page, "--quiet")
    assert result.exit_code == 0, result.output
    expected_page = atlas.compare(models["a"], models["b"], token="cat").page
    shared = sum(r["shared"] for r in expected_page["left"])
    with Chromium(tmp_path) as browser:
        tab = browser.new_page()
        tab.navigate(page.as_uri())
        tab.wait_for("document.readyState === 'complete'", "the page")
        seen = tab.evaluate("JSON.stringify(document.body.dataset)")
        left = tab.evaluate("JSON.stringify([...document.querySelectorAll('#left li')].map(li => li.dataset.id))")
        right = tab.evaluate("JSON.stringify([...document.querySelectorAll('#right li')].map(li => li.dataset.id))")
        lines = tab.evaluate("document.querySelectorAll('svg line').length")
        heading = tab.evaluate("document.querySelector('h1').textContent")
        assert browser.page_errors() == [] and browser.requested_urls() == [page.as_uri()]
    assert json.loads(seen) == {"left": str(K), "right": str(K), "shared": str(shared)}
    assert [int(i) for i in json.loads(left)] == [r["id"] for r in expected_page["left"]]
    assert [int(i) for i in json.loads(right)] == [r["id"] for r in expected_page["right"]]
    assert lines == shared and "nearest tokens of cat" in heading


def test_the_page_escapes_token_text():
    from atlas.pages.compare_page import render_page

    evil = "</li><script>alert(1)</script>\x1b"
    row = {"rank": 1, "id": 5, "text": evil, "score": 0.5, "shared": True, "partner": 5}
    html = render_page(
        {
            "a": "<b>a</b>",
            "b": "b",
            "k": 1,
            "token_a": {"id": 1, "text": evil},
            "token_b": {"id": 1, "text": evil},
            "matched_by": "id",
            "jaccard": 1.0,
            "rbo": 1.0,
            "left": [row],
            "right": [{k: v for k, v in row.items() if k != "partner"}],
        }
    )
    assert "<script>" not in html and "<b>a</b>" not in html and "\x1b" not in html
    assert "&lt;/li&gt;&lt;script&gt;" in html and html.count("<line ") == 1


def test_the_guide_lists_the_tokens_that_changed_most(atlas, store, models):
    from test_guide import cypher_examples

    found = atlas.compare(models["b"], models["a"], k=K, top=5)  # B's only comparison
    (changed,) = [c for c in cypher_examples() if c.startswith("MATCH (a:Token {model: $model})-[s:SAME_TOKEN]")]
    rows = store.driver.execute_query(changed, {"model": models["b"]}, database_=store.database)[0]
    assert len(rows) == 25 and {r["other"] for r in rows} == {models["a"]}
    assert [r["rbo"] for r in rows[:5]] == [round(t["rbo"], 3) for t in found.changed_most]
    (listed,) = [c for c in cypher_examples() if c.startswith("MATCH (c:Comparison)")]
    (row,) = store.driver.execute_query(listed, {"model": models["b"]}, database_=store.database)[0]
    assert (row["other"], row["k"], row["by_id"], row["rbo"]) == (
        models["a"],
        K,
        1200,
        round(found.figures["mean_rbo"], 3),
    )


def test_a_page_that_cannot_be_written_is_refused_before_comparing(run, store, models, tmp_path):
    out = tmp_path / "no such folder" / "page.html"
    result = run("compare", models["b"], models["c"], "--format", "html", "--token", "cat", "-o", out)
    assert error_line(result) == (
        f"Error: cannot write {out}: its folder {out.parent} does not exist; create it or write elsewhere"
    )
    assert (
        comparison_nodes(store, models["b"], models["c"]) == [] and stored_links(store, models["b"], models["c"]) == {}
    )


def test_links_of_a_comparison_stopped_while_writing_are_marked_unfinished(atlas, store, models):
    from atlas.graph.comparisons import write_comparison

    a, b = models["a"], models["b"]
    rows = [{"a": 100, "b": 100, "by": "id", "jaccard": 0.5, "rbo": 0.5}]  # one pair, as same_token_rows gives

    def stopped(n: int) -> None:
        raise KeyboardInterrupt  # the process stops after the first batch of links

    with pytest.raises(KeyboardInterrupt):
        write_comparison(store, a, b, 3, rows, {"mean_rbo": 0.5}, batch_size=1, done=stopped)
    (node,) = comparison_nodes(store, a, b)
    assert node["status"] == "writing" and "mean_rbo" not in node
    atlas.compare(a, b)
    (node,) = comparison_nodes(store, a, b)
    assert node["status"] == "complete" and "mean_rbo" in node
