"""Token embeddings as vector properties with a vector index per model: `atlas vectors`, `atlas load --vectors`, the guide's arithmetic."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from conftest import error_line
from test_guide import cypher_examples

from atlas.graph import vectors
from atlas.graph.vectors import StoreCost, vector_names, vector_rows
from atlas.loaders import load_embedding_table


def model_props(run, name: str) -> dict:
    result = run("models", "--json")
    assert result.exit_code == 0, result.stderr
    return {m["name"]: m for m in json.loads(result.stdout)}[name]


def index_state(neo4j_driver, neo4j_settings, name: str) -> list[dict]:
    records, _, _ = neo4j_driver.execute_query(
        "SHOW VECTOR INDEXES YIELD name, labelsOrTypes, properties, state, options WHERE name = $name RETURN *",
        {"name": name},
        database_=neo4j_settings.database,
    )
    return [r.data() for r in records]


# --- the guide's arithmetic on the whole MiniLM ------------------------------------------------------


@pytest.mark.parametrize("block", ["index", "scan"])
def test_the_guides_arithmetic_gives_queen_first(whole_minilm, neo4j_driver, neo4j_settings, block):
    (cypher,) = [c for c in cypher_examples() if "king.embedding" in c and ("queryNodes" in c) == (block == "index")]
    records, _, _ = neo4j_driver.execute_query(cypher, {"model": whole_minilm}, database_=neo4j_settings.database)
    tokens = [r["token"] for r in records]
    assert tokens[0] == "queen"
    assert len(tokens) == 10 and not {"king", "man", "woman"} & set(tokens)
    assert records[0]["cosine"] == pytest.approx(0.5015, abs=1e-4)  # the unquantized index scores exactly too
    if block == "scan":  # exact: the same as atlas near
        assert tokens[:5] == ["queen", "kings", "monarch", "monarchy", "queens"]


def test_whole_minilm_are_its_unit_rows(whole_minilm, neo4j_driver, neo4j_settings, run):
    props = model_props(run, whole_minilm)
    label, index = vector_names(whole_minilm)
    assert (props["vectors"], props["vector_label"], props["vector_index"]) == ("complete", label, index)
    assert props["vectors_stored"] == 30_522 and props["vectors_zero"] == 0
    (state,) = index_state(neo4j_driver, neo4j_settings, index)
    assert state["state"] == "ONLINE" and state["labelsOrTypes"] == [label] and state["properties"] == ["embedding"]
    assert state["options"]["indexConfig"]["vector.dimensions"] == 384
    assert state["options"]["indexConfig"]["vector.similarity_function"] == "COSINE"
    table = load_embedding_table("all-MiniLM-L6-v2")
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (t:Token {model: $model}) WHERE t.id IN [0, 3035, 30521] RETURN t.id AS id, t.embedding AS e ORDER BY id",
        {"model": whole_minilm},
        database_=neo4j_settings.database,
    )
    unit = table.matrix / np.linalg.norm(table.matrix, axis=1, keepdims=True)
    for r in records:
        np.testing.assert_array_equal(np.array(r["e"], dtype=np.float32), unit[r["id"]].astype(np.float32))


# --- atlas vectors on a stored model -------------------------------------------------------------------


@pytest.fixture
def loaded(run, qwen_folder, model_name):
    assert run("load", qwen_folder[0], "--name", model_name, "--k", 3, "--quiet").exit_code == 0
    return model_name, qwen_folder[0], qwen_folder[2]


def test_vectors_of_a_stored_model(run, loaded, neo4j_driver, neo4j_settings):
    name, folder, n_tokens = loaded
    result = run("vectors", "--model", name, "--quiet")
    assert result.exit_code == 0, result.stderr
    label, index = vector_names(name)
    assert re.search(
        rf"^stored {n_tokens} vectors of '{re.escape(name)}' and the vector index {index} in [\d.]+ s$",
        result.stderr,
        re.M,
    )
    assert model_props(run, name)["vectors"] == "complete"
    assert index_state(neo4j_driver, neo4j_settings, index)[0]["options"]["indexConfig"]["vector.dimensions"] == 32

    # the printed Browser line runs as it is and gives the index's nearest tokens of " cat"
    records, _, _ = neo4j_driver.execute_query(result.stdout.strip(), database_=neo4j_settings.database)
    assert len(records) == 10 and " cat" not in [r["token"] for r in records]
    table = load_embedding_table(str(folder))
    unit = table.matrix / np.linalg.norm(table.matrix, axis=1, keepdims=True)
    cat = table.text.index(" cat")
    best = int(np.argsort(-(unit @ unit[cat]))[1])
    assert records[0]["id"] == table.ids[best] and records[0]["cosine"] == pytest.approx(
        float(unit[best] @ unit[cat]), abs=1e-3
    )

    again = run("vectors", "--model", name, "--quiet")
    assert again.exit_code == 0
    assert "are stored already" in again.stderr and "nothing to do" in again.stderr
    replaced = run("vectors", "--model", name, "--quiet", "--replace")
    assert replaced.exit_code == 0 and replaced.stderr.startswith(f"stored {n_tokens} vectors")
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (t:$($label)) RETURN count(t.embedding) AS vectors, count(DISTINCT t.model) AS models",
        {"label": label},
        database_=neo4j_settings.database,
    )
    assert (records[0]["vectors"], records[0]["models"]) == (n_tokens, 1)


def test_deleting_a_model_drops_its_index(run, loaded, neo4j_driver, neo4j_settings):
    from atlas.graph.store import Store

    name = loaded[0]
    assert run("vectors", "--model", name, "--quiet").exit_code == 0
    index = vector_names(name)[1]
    assert index_state(neo4j_driver, neo4j_settings, index)
    with Store(neo4j_settings) as store:
        store.delete_model(name)
    assert not index_state(neo4j_driver, neo4j_settings, index)


def test_models_of_different_dimensions_each_have_their_index(run, loaded, whole_minilm, neo4j_driver, neo4j_settings):
    name = loaded[0]
    assert run("vectors", "--model", name, "--quiet").exit_code == 0
    for model, dim in ((name, 32), (whole_minilm, 384)):
        records, _, _ = neo4j_driver.execute_query(
            "MATCH (m:Model {name: $model}) MATCH (t:Token {model: $model}) WITH m, t LIMIT 1 "
            "CALL db.index.vector.queryNodes(m.vector_index, 50, t.embedding) YIELD node "
            "RETURN collect(DISTINCT node.model) AS models, size(t.embedding) AS dim",
            {"model": model},
            database_=neo4j_settings.database,
        )
        assert records[0]["models"] == [model] and records[0]["dim"] == dim


def test_load_with_vectors(run, qwen_folder, model_name):
    result = run("load", qwen_folder[0], "--name", model_name, "--k", 3, "--vectors", "--quiet", "--no-analysis")
    assert result.exit_code == 0, result.stderr
    assert f"stored {qwen_folder[2]} vectors of '{model_name}'" in result.stderr
    assert model_props(run, model_name)["vectors"] == "complete"
    again = run("load", qwen_folder[0], "--name", model_name, "--k", 3, "--vectors", "--quiet", "--no-analysis")
    assert "are stored already" in again.stderr


def test_refused_when_the_page_cache_cannot_hold_them(run, qwen_folder, model_name, monkeypatch):
    monkeypatch.setattr(vectors, "vector_cost", lambda tokens, dim: StoreCost(2**50, 0, 0))
    line = error_line(run("load", qwen_folder[0], "--name", model_name, "--k", 3, "--vectors", "--quiet"))
    assert re.fullmatch(
        r"Error: the vectors need about 1,048,576 GiB of Neo4j's page cache, which is [\d.,]+ [GM]iB; "
        r"raise server\.memory\.pagecache\.size \(atlas db start --pagecache\) and restart Neo4j",
        line,
    )
    assert run("models", "--json").stdout.count(model_name) == 0  # refused before anything was written


def test_refused_when_the_disk_cannot_hold_them(run, loaded, monkeypatch, neo4j_driver, neo4j_settings):
    from pathlib import Path

    records, _, _ = neo4j_driver.execute_query(
        "CALL dbms.listConfig() YIELD name, value WHERE name = 'server.directories.data' RETURN value",
        database_=neo4j_settings.database,
    )
    if not Path(records[0]["value"]).is_dir() or "127.0.0.1" not in neo4j_settings.uri:
        pytest.skip("the test server does not run on this machine")
    monkeypatch.setattr(vectors, "vector_cost", lambda tokens, dim: StoreCost(0, 2**60, 0))
    line = error_line(run("vectors", "--model", loaded[0]))
    assert re.fullmatch(
        rf"Error: the vectors need about 1,073,741,824 GiB of disk in {re.escape(records[0]['value'])} "
        r"\(store, index and transaction logs\), and [\d.,]+ [GM]iB is free; free some space first",
        line,
    )
    assert model_props(run, loaded[0]).get("vectors") is None


def test_vectors_of_a_model_not_loaded(run):
    assert error_line(run("vectors", "--model", "no-such-model-at-all")).startswith(
        "Error: model 'no-such-model-at-all' is not loaded"
    )


# --- pure ----------------------------------------------------------------------------------------------


def test_zero_rows_get_no_vector():
    rows = vector_rows(np.array([7, 8, 9]), np.array([[0.0, 2.0], [0.0, 0.0], [1.0, 1.0]], np.float32))
    assert [r["id"] for r in rows] == [7, 9]
    assert rows[0]["embedding"] == [0.0, 1.0]


@pytest.mark.parametrize(
    "name", ["all-MiniLM-L6-v2", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B", "ünïcode ✓", "'\"`) DETACH DELETE", "---"]
)
def test_vector_names_are_plain_identifiers_and_distinct(name):
    label, index = vector_names(name)
    assert re.fullmatch(r"Vectors_[A-Za-z0-9_]+", label) and re.fullmatch(r"vectors_[A-Za-z0-9_]+", index)
    assert vector_names(name + " ") != (label, index)
