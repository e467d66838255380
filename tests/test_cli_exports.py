"""prompt, atlas and export through the CLI on a real Neo4j: files, determinism, networkx, failures."""

import json

import networkx as nx
import pytest
from conftest import error_line


@pytest.fixture
def model(run, qwen_folder, model_name):
    result = run("load", qwen_folder[0], "--name", model_name, "--k", 6, "--quiet")
    assert result.exit_code == 0, result.stderr
    return model_name


def test_atlas_same_seed_same_bytes_and_graphml_matches_json(run, model, tmp_path):
    first, second, as_json = tmp_path / "a.graphml", tmp_path / "b.graphml", tmp_path / "a.json"
    for out in (first, second):
        result = run("atlas", "--model", model, "--words", 4, "--seed", 7, "--k", 3, "--format", "graphml", "-o", out)
        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""
    assert first.read_bytes() == second.read_bytes()
    other = run("atlas", "--model", model, "--words", 4, "--seed", 8, "--k", 3, "--format", "graphml", "-o", "-")
    assert other.stdout.encode() != first.read_bytes()
    assert (
        run("atlas", "--model", model, "--words", 4, "--seed", 7, "--k", 3, "--format", "json", "-o", as_json).exit_code
        == 0
    )

    graph = nx.read_graphml(first)
    data = json.loads(as_json.read_text())
    assert graph.number_of_nodes() == len(data["nodes"]) and graph.number_of_edges() == len(data["links"])
    assert sum(1 for n in data["nodes"] if n["seed"]) == 4
    for link in data["links"]:
        attrs = graph.edges[str(link["source"]), str(link["target"])]
        assert attrs["score"] == link["score"] and attrs["rank"] == link["rank"]
        assert isinstance(attrs["rank"], int) and isinstance(attrs["score"], float)


def test_prompt_exports_and_save(run, model, tmp_path, neo4j_driver):
    text = "the cat sat on a list"
    result = run("prompt", text, "--model", model, "--k", 2, "--format", "json", "--save")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    seeds = [n for n in data["nodes"] if n["seed"]]
    assert seeds and all(link["rank"] <= 6 for link in data["links"])
    query = result.stderr.strip().splitlines()[-1]
    assert query.startswith("MATCH (p:Prompt {model: ")
    records, _, _ = neo4j_driver.execute_query(query)
    assert [r["h"]["position"] for r in records] == list(range(len(records)))
    assert {r["t"]["id"] for r in records} == {n["id"] for n in seeds}
    again = run("prompt", text, "--model", model, "--k", 2, "--format", "json", "--save")
    assert again.stdout == result.stdout
    count, _, _ = neo4j_driver.execute_query(
        "MATCH (p:Prompt {model: $m})-[h:HAS_TOKEN]->() RETURN count(DISTINCT p) AS p, count(h) AS h", m=model
    )
    assert count[0]["p"] == 1 and count[0]["h"] == len(records)


def test_csv_writes_two_files(run, model, tmp_path):
    out = tmp_path / "prompt.csv"
    assert run("prompt", "a list", "--model", model, "--k", 2, "--format", "csv", "-o", out).exit_code == 0
    assert (tmp_path / "prompt.nodes.csv").read_text().startswith("id,text,raw,special,variant,seed,members")
    assert (tmp_path / "prompt.edges.csv").read_text().startswith("source,target,score,rank")


def test_failed_export_leaves_nothing(run, model, tmp_path):
    target = tmp_path / "missing" / "atlas.html"
    result = run("atlas", "--model", model, "--words", 2, "--k", 2, "--format", "html", "-o", target)
    assert result.exit_code == 1 and result.stderr.startswith("Error: ")
    assert len(result.stderr.splitlines()) == 1
    assert not target.parent.exists()


def test_empty_output_name_is_refused(run, model):
    result = run("atlas", "--model", model, "--words", 2, "--k", 2, "--format", "json", "-o", "")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "Error: no output file given; name a file with -o, or write - for stdout\n"


def test_words_file_reports_words_that_are_not_tokens(run, model, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("list\ncat\nxylophonequartz\n")
    result = run("atlas", "--model", model, "--words-file", words, "--k", 2, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert '"xylophonequartz"' in result.stderr and "left out" in result.stderr
    texts = {n["text"] for n in json.loads(result.stdout)["nodes"] if n["seed"]}
    assert texts == {" list", " cat"}


def test_export_named_view(run, model):
    result = run(
        "export",
        "--query",
        "neighbourhood",
        "--param",
        f"model={model}",
        "--param",
        "text= list",
        "--param",
        "k=3",
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert [n["text"] for n in data["nodes"] if n["seed"]] == [" list"]
    bad = run("export", "--query", "no_such_view", "--param", f"model={model}")
    assert bad.exit_code == 1 and "no_such_view" in bad.stderr
    malformed = run("export", "--query", "neighbourhood", "--param", "model")
    assert malformed.stderr.strip() == "Error: --param expects KEY=VALUE, got 'model'"


def test_a_repeated_param_is_refused(run):
    result = run("export", "--query", "neighbourhood", "--param", "text=cat", "--param", "k=5", "--param", "k=6")
    assert error_line(result) == "Error: --param k is given twice; give each parameter once"


def test_variants_command(run, model):
    result = run("variants", "LIST", "--model", model, "--json")
    assert result.exit_code == 0, result.stderr
    group = json.loads(result.stdout)
    assert group["key"] == "list" and {" list", "List"} <= {t["text"] for t in group["tokens"]}
    rebuilt = run("variants", "--rebuild", "list", "--model", model, "--json")
    assert rebuilt.exit_code == 0 and json.loads(rebuilt.stdout) == group


@pytest.mark.parametrize("command", [["export", "--query", "neighbourhood"], ["prompt", "the cat"], ["near", "king"]])
def test_table_format_with_an_output_file_is_refused(run, command, tmp_path):
    out = tmp_path / "table.txt"
    line = error_line(run(*command, "--format", "table", "-o", out))
    assert line == (
        f"Error: --format table is printed on the terminal, not written to {out}; "
        "use --format csv or --format json to write a file"
    )
    assert not out.exists()
    assert error_line(run(*command, "-o", "/dev/full")).startswith("Error: --format table is printed on the terminal")
