"""The whole-vocabulary atlas of the bundled MiniLM, end to end: `atlas load` with its analysis in a real Neo4j,
checked against brute-force counts, and `atlas map` read back by pyarrow and drawn in real headless Chromium."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
from chromium import CHROMIUM, Chromium

from atlas.core import analysis
from atlas.core.analysis import mutual
from atlas.core.token_text import display_text
from atlas.core.topk import all_neighbours
from atlas.files.model_files import BUNDLED
from atlas.loaders import load_embedding_table

K = 20


@pytest.fixture(scope="module")
def minilm_atlas(neo4j_settings):
    """The bundled MiniLM loaded (with its analysis) through the CLI under a fresh name: (name, table, ids, scores)."""
    from click.testing import CliRunner

    from atlas.cli import main
    from atlas.graph.store import Store

    name = f"test-atlas-minilm-{uuid.uuid4().hex[:8]}"
    env = {
        "NEO4J_URI": neo4j_settings.uri,
        "NEO4J_USER": neo4j_settings.user,
        "NEO4J_PASSWORD": neo4j_settings.password,
        "NEO4J_DATABASE": neo4j_settings.database,
    }
    result = CliRunner().invoke(main, ["load", "--name", name, "--k", str(K)], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    assert f"atlas map --model {name} -o map.html" in result.stderr
    table = load_embedding_table(BUNDLED)
    ids, scores = all_neighbours(table.matrix, K)
    try:
        yield name, table, ids, scores, result.stderr
    finally:
        with Store(neo4j_settings) as store:
            store.delete_model(name)


def one(driver, query: str, **params):
    records, _, _ = driver.execute_query(query, params)
    return records[0].data()


def test_every_non_special_token_has_a_community_and_a_place(minilm_atlas, neo4j_driver):
    name, table, *_ = minilm_atlas
    row = one(
        neo4j_driver,
        "MATCH (t:Token {model: $m}) RETURN count(t) AS tokens,"
        " count(CASE WHEN NOT t.special AND (t.community IS NULL OR t.x IS NULL OR t.y IS NULL) THEN 1 END) AS missing,"
        " count(t.community) AS placed, count(DISTINCT t.community) AS communities",
        m=name,
    )
    assert row["tokens"] == len(table) and row["missing"] == 0
    sizes = one(
        neo4j_driver,
        "MATCH (c:Community {model: $m}) RETURN sum(c.size) AS total, count(c) AS n, min(c.id) AS low, max(c.id) AS high",
        m=name,
    )
    assert sizes["total"] == row["placed"]
    assert sizes["n"] == row["communities"] and (sizes["low"], sizes["high"]) == (0, sizes["n"] - 1)
    model = one(neo4j_driver, "MATCH (m:Model {name: $m}) RETURN m {.*} AS m", m=name)["m"]
    assert model["analysis"] == "complete" and model["communities"] == sizes["n"]
    assert model["analysis_resolution"] == 20.0 and model["analysis_seed"] == 0
    assert 0.3 < model["modularity"] < 1


def test_cited_and_mutual_match_brute_force(minilm_atlas, neo4j_driver):
    name, table, ids, _scores, _ = minilm_atlas
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Token {model: $m}) RETURN t.id AS id, t.cited AS cited ORDER BY id", m=name
    )
    stored = np.array([r["cited"] for r in records])
    assert (stored == np.bincount(ids[ids >= 0], minlength=len(table))).all()
    assert stored.sum() == len(table) * K
    both = one(
        neo4j_driver,
        "MATCH (:Token {model: $m})-[r:SIMILAR_TO]->() RETURN count(CASE WHEN r.mutual THEN 1 END) AS yes, count(r.mutual) AS flagged",
        m=name,
    )
    assert both == {"yes": int(mutual(ids).sum()), "flagged": len(table) * K}


def test_linked_communities_count_the_cross_community_edges(minilm_atlas, neo4j_driver):
    name, *_ = minilm_atlas
    cross = one(
        neo4j_driver,
        "MATCH (a:Token {model: $m})-[r:SIMILAR_TO]->(b:Token) WHERE a.community <> b.community"
        " RETURN count(r) AS edges, sum(r.score) AS weight",
        m=name,
    )
    linked = one(
        neo4j_driver,
        "MATCH (a:Community {model: $m})-[l:LINKED]->(b:Community) RETURN sum(l.edges) AS edges, sum(l.weight) AS weight,"
        " count(CASE WHEN a.id >= b.id THEN 1 END) AS backwards",
        m=name,
    )
    assert linked["edges"] == cross["edges"] and linked["backwards"] == 0
    assert linked["weight"] == pytest.approx(cross["weight"], rel=1e-9)


def test_labels_read_as_topics(minilm_atlas, neo4j_driver):
    name, *_ = minilm_atlas
    records, _, _ = neo4j_driver.execute_query("MATCH (c:Community {model: $m}) RETURN c.label AS label", m=name)
    labels = [r["label"] for r in records]
    assert not any("[CLS]" in label or "[SEP]" in label or "[PAD]" in label for label in labels)
    church = next(label for label in labels if "church" in label or "churches" in label)
    assert any(w in church for w in ("monastery", "cathedral", "ecclesiastical", "abbey", "parish"))


def test_hubs_and_models_show_the_in_degree(minilm_atlas, run, neo4j_driver):
    name, table, ids, *_ = minilm_atlas
    result = run("hubs", "--model", name, "--limit", 5, "--json")
    assert result.exit_code == 0, result.stderr
    hubs = json.loads(result.stdout)
    cited = np.bincount(ids[ids >= 0], minlength=len(table))
    ordinary = [i for i in np.lexsort((table.ids, -cited)) if not table.special[i]][:5]
    assert [h["id"] for h in hubs] == [int(table.ids[i]) for i in ordinary]
    assert [h["cited"] for h in hubs] == [int(cited[i]) for i in ordinary]
    model = next(m for m in json.loads(run("models", "--json").stdout) if m["name"] == name)
    mean, spread = cited.mean(), cited.std()
    assert model["cited_skewness"] == pytest.approx(float(np.mean((cited - mean) ** 3) / spread**3), rel=1e-6)
    assert run("models", "--verify").exit_code == 0


@pytest.mark.parametrize("by", ["pagerank", "core", "clustering"])
def test_hubs_by_each_graph_measure(minilm_atlas, run, by):
    name, table, ids, scores, _ = minilm_atlas
    found = getattr(analysis.measures(ids, scores), by)
    result = run("hubs", "--model", name, "--limit", 5, "--by", by, "--json")
    assert result.exit_code == 0, result.stderr
    hubs = json.loads(result.stdout)
    assert [h[by] for h in hubs] == pytest.approx(
        sorted((found[i] for i in range(len(table)) if not table.special[i]), reverse=True)[:5], rel=1e-5
    )
    assert all(set(h) == {"id", "text", "special", "cited", "community", "label", by} for h in hubs)
    table_text = run("hubs", "--model", name, "--limit", 3, "--by", by).stdout
    assert table_text.splitlines()[0].split()[:2] == [by, "cited"]


def test_hubs_by_default_keep_their_fields(minilm_atlas, run):
    hubs = json.loads(run("hubs", "--model", minilm_atlas[0], "--limit", 3, "--json").stdout)
    assert all(set(h) == {"id", "text", "special", "cited", "community", "label"} for h in hubs)


def test_neighbours_show_each_neighbours_community(minilm_atlas, run, neo4j_driver):
    name, *_ = minilm_atlas
    rows = json.loads(run("neighbours", "cat", "--model", name, "--json", "--k", 5).stdout)
    labels = {
        r["id"]: r["label"]
        for r in neo4j_driver.execute_query(
            "MATCH (t:Token {model: $m}) WHERE t.id IN $ids MATCH (c:Community {model: $m, id: t.community}) RETURN t.id AS id, c.label AS label",
            m=name,
            ids=[r["id"] for r in rows],
        )[0]
    }
    assert [r["community"] for r in rows] == [labels[r["id"]] for r in rows]
    table = run("neighbours", "cat", "--model", name, "--k", 2).stdout.splitlines()
    assert table[0].split() == ["rank", "id", "score", "token", "community"]


def test_parquet_for_embedding_atlas(minilm_atlas, run, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    name, table, ids, scores, _ = minilm_atlas
    path = tmp_path / "map.parquet"
    result = run("map", "--model", name, "--format", "parquet", "-o", path)
    assert result.exit_code == 0, result.stderr
    data = pq.read_table(path)
    assert data.schema.names == ["id", "text", "x", "y", "community", "cited", "neighbors"]
    assert data.schema.field("neighbors").type == pa.struct(
        [pa.field("ids", pa.list_(pa.int32())), pa.field("distances", pa.list_(pa.float32()))]
    )
    assert data.num_rows == len(table)
    assert data.column("id").to_pylist() == table.ids.tolist()
    first = data.column("neighbors")[0].as_py()
    assert first["ids"] == ids[0].tolist()  # zero-based rows: MiniLM's rows are its ids
    assert first["distances"] == pytest.approx((1 - scores[0]).tolist(), abs=1e-6)


@pytest.mark.browser
def test_the_map_draws_every_token_searches_and_lists_neighbours(minilm_atlas, run, tmp_path):
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    name, table, ids, scores, _ = minilm_atlas
    path = tmp_path / "map.html"
    result = run("map", "--model", name, "-o", path)
    assert result.exit_code == 0, result.stderr
    assert path.stat().st_size < 8 * 2**20
    with Chromium(tmp_path / "chromium", window=(1400, 900)) as browser:
        tab = browser.new_page()
        tab.navigate(path.resolve().as_uri())
        tab.wait_for("document.body && document.body.dataset.ready === '1'", "every point drawn", timeout=90)
        tab.wait_for("document.body.dataset.neighbours === '1'", "the neighbours to unpack", timeout=60)
        assert tab.evaluate("document.body.dataset.points") == str(len(table))

        tab.evaluate("(() => { const s = document.getElementById('search'); s.value = ''; s.focus(); })()")
        tab.insert_text("list")
        tab.wait_for("!document.getElementById('search-options').hidden", "completions")
        tab.press("Enter", "Enter", 13)
        listed = table.text.index("list")
        tab.wait_for(f"document.body.dataset.selected === '{table.ids[listed]}'", "list to be selected")
        group = [i for i, t in enumerate(table.text) if t in ("list", "##list")]
        assert tab.evaluate("document.body.dataset.highlighted") == str(len(group))

        shown = tab.evaluate(
            "[...document.querySelectorAll('#panel-neighbours li')].map(li => [+li.dataset.row, li.querySelector('.score').textContent])"
        )
        assert [row for row, _ in shown] == ids[listed].tolist()
        assert all(abs(float(s) - float(scores[listed, j])) < 1e-4 for j, (_, s) in enumerate(shown))
        assert tab.evaluate("document.getElementById('panel-text').textContent") == display_text("list")

        assert browser.page_errors() == []
        assert browser.requested_urls() == [path.resolve().as_uri()]
