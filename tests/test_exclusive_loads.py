"""One load per model name, and `complete` means exact: real processes racing and killed, leases expiring, a
tampered graph found out. Every test runs against a real Neo4j."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import error_line

from atlas.errors import ModelBusy, ModelInconsistent
from atlas.graph.lease import Lease
from atlas.graph.store import Store
from atlas.loaders import load_embedding_table, pipeline

CLI = [sys.executable, "-c", "from atlas.cli import main; main()"]
K = 5


def env_for(settings) -> dict:
    return {
        **os.environ,
        "NEO4J_URI": settings.uri,
        "NEO4J_USER": settings.user,
        "NEO4J_PASSWORD": settings.password,
        "NEO4J_DATABASE": settings.database,
    }


@pytest.fixture
def store(neo4j_settings):
    with Store(neo4j_settings) as store:
        yield store


def graph_counts(store: Store, name: str) -> dict:
    model = store.model(name) or {}
    edges = store.read("model_verify", model=name, per_token=K, zero_ids=None)[0]
    return {"status": model.get("status"), "tokens": edges["tokens"], "edges": edges["edges"], "wrong": edges["wrong"]}


def test_two_loads_of_one_name_race_and_one_is_refused(neo4j_settings, store, model_name):
    """Two `atlas load` processes started together: one loads, the other is refused naming it; the graph is exact."""
    args = [*CLI, "load", "--name", model_name, "--k", str(K), "--no-analysis", "--quiet"]
    first = subprocess.Popen(
        args, env=env_for(neo4j_settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    second = subprocess.Popen(
        args, env=env_for(neo4j_settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    results = [(p.wait(timeout=600), *p.communicate()) for p in (first, second)]
    codes = sorted(code for code, _, _ in results)
    assert codes == [0, 1], results
    refused = next(err for code, _, err in results if code == 1).strip().splitlines()
    assert len(refused) == 1
    winner = first if results[0][0] == 0 else second
    assert re.fullmatch(
        rf"Error: model '{re.escape(model_name)}' is being loaded or analysed by {re.escape(socket.gethostname())} "
        rf"pid {winner.pid} since \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00; wait for it to finish .*",
        refused[0],
    ), refused[0]
    vocabulary = 30522
    assert graph_counts(store, model_name) == {
        "status": "complete",
        "tokens": vocabulary,
        "edges": vocabulary * K,
        "wrong": 0,
    }
    assert store.read("lease_holder", model=model_name) == []  # given back


def test_a_load_killed_with_sigkill_does_not_block_the_name(neo4j_settings, store, model_name, run):
    """kill -9 mid-load: the lease stays, but a new load on this machine sees its holder is gone and finishes the graph."""
    args = [*CLI, "load", "--name", model_name, "--k", str(K), "--no-analysis", "--quiet"]
    victim = subprocess.Popen(args, env=env_for(neo4j_settings), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:  # until it holds the lease and has written some edges
        if (
            store.read("lease_holder", model=model_name)
            and (store.model(model_name) or {}).get("status") == "loading"
            and store.read("model_verify", model=model_name, per_token=K, zero_ids=None)[0]["edges"] > 0
        ):
            break
        time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    left = graph_counts(store, model_name)
    assert left["status"] == "loading" and 0 < left["edges"] < 30522 * K
    assert store.read("lease_holder", model=model_name)[0]["pid"] == victim.pid

    began = time.monotonic()
    result = run("load", "--name", model_name, "--k", K, "--no-analysis", "--quiet")
    assert result.exit_code == 0, result.stderr
    assert time.monotonic() - began < 240
    assert graph_counts(store, model_name) == {"status": "complete", "tokens": 30522, "edges": 30522 * K, "wrong": 0}


def test_a_lease_held_elsewhere_refuses_until_it_expires(store, model_name):
    other = Lease(store, model_name, seconds=2)
    other.owner = {**other.owner, "host": "another-machine", "pid": 4242}
    other.take()
    mine = Lease(store, model_name, seconds=30)
    with pytest.raises(
        ModelBusy, match=r"being loaded or analysed by another-machine pid 4242 since .* expires in [0-2] s"
    ):
        mine.take()
    time.sleep(2.5)  # not renewed: it expires
    mine.take()
    assert store.read("lease_holder", model=model_name)[0]["token"] == mine.owner["token"]
    assert other.renew() is False and other.lost  # the stalled holder finds out before it marks anything complete
    mine.release()


def test_a_lost_lease_keeps_the_model_loading(store, model_name, qwen_folder, monkeypatch):
    """A holder stalled past its lease (another load took over) must not mark the model complete."""
    table = load_embedding_table(str(qwen_folder[0]), name=model_name)
    real = pipeline._write_edges

    def stalled(*args, **kwargs):
        written = real(*args, **kwargs)
        thief = Lease(store, model_name, seconds=60)
        thief.owner = {**thief.owner, "host": "another-machine"}
        thief._try(store.read("lease_holder", model=model_name)[0]["token"])  # take it over, as after an expiry
        return written

    monkeypatch.setattr(pipeline, "_write_edges", stalled)
    with pytest.raises(ModelInconsistent, match="another load took over this model's lease; it stays 'loading'"):
        pipeline.load(store, table, K, lease_seconds=60)
    assert store.model(model_name)["status"] == "loading"
    store.write("lease_release", model=model_name, token=store.read("lease_holder", model=model_name)[0]["token"])


def test_complete_means_exact_a_skipped_batch_is_found(store, model_name, qwen_folder, monkeypatch):
    table = load_embedding_table(str(qwen_folder[0]), name=model_name)
    real = pipeline.write_edge_batch
    calls = []

    def lossy(store_, statement, params):
        calls.append(len(params["src"]))
        if len(calls) == 2:  # one source token's edges never written
            params = {key: values[1:] for key, values in params.items()}
        return real(store_, statement, params)

    monkeypatch.setattr(pipeline, "write_edge_batch", lossy)
    with pytest.raises(
        ModelInconsistent,
        match=rf"the graph of '{model_name}' is not exact after the load: .*"
        rf"SIMILAR_TO edges, {len(table) * K:,} expected; it stays 'loading'",
    ):
        pipeline.load(store, table, K, batch_size=10 * K)
    assert store.model(model_name)["status"] == "loading"
    monkeypatch.setattr(pipeline, "write_edge_batch", real)
    pipeline.load(store, table, K, batch_size=10 * K)  # the same load again finishes it exactly
    assert graph_counts(store, model_name) == {
        "status": "complete",
        "tokens": len(table),
        "edges": len(table) * K,
        "wrong": 0,
    }


def test_models_verify_reports_a_tampered_graph(run, store, model_name, qwen_folder, neo4j_driver):
    assert run("load", qwen_folder[0], "--name", model_name, "--k", K, "--no-analysis", "--quiet").exit_code == 0
    assert f"{model_name}: consistent" in run("models", "--verify").stderr.splitlines()
    neo4j_driver.execute_query("MATCH (:Token {model: $m, id: 7})-[r:SIMILAR_TO {rank: 2}]->() DELETE r", m=model_name)
    result = run("models", "--verify")
    assert result.exit_code == 1
    assert (
        f"{model_name}: 1 tokens do not have exactly {K} distinct neighbours ranked 1..{K} (token ids 7); "
        f"{qwen_folder[2] * K - 1:,} SIMILAR_TO edges, {qwen_folder[2] * K:,} expected"
    ) in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: inconsistent models found; run the same `atlas load` again (with --replace if it was complete) to rewrite them"
    )


def test_models_verify_reports_a_model_being_loaded_as_loading(run, store, model_name, qwen_folder, neo4j_driver):
    assert run("load", qwen_folder[0], "--name", model_name, "--k", K, "--no-analysis", "--quiet").exit_code == 0
    # as a load leaves it midway: status loading, a token's edges not yet written, its lease held by a live process
    neo4j_driver.execute_query("MATCH (m:Model {name: $m}) SET m.status = 'loading'", m=model_name)
    neo4j_driver.execute_query("MATCH (:Token {model: $m, id: 7})-[r:SIMILAR_TO]->() DELETE r", m=model_name)
    with Lease(store, model_name):
        result = run("models", "--verify")
        as_json = run("models", "--verify", "--json")
    assert f"{model_name}: still loading, not checked" in result.stderr.splitlines()
    assert not any(line.startswith(f"{model_name}: ") and "expected" in line for line in result.stderr.splitlines())
    row = next(r for r in __import__("json").loads(as_json.stdout) if r["name"] == model_name)
    assert row["loading"] is True and row["problems"] is None
    after = run("models", "--verify")  # the lease given back: an interrupted load, checked and found wanting
    assert any(
        line.startswith(f"{model_name}: 1 tokens have no neighbours, 0 expected") for line in after.stderr.splitlines()
    )


def test_an_analysis_waits_its_turn(run, store, model_name, qwen_folder):
    assert run("load", qwen_folder[0], "--name", model_name, "--k", K, "--no-analysis", "--quiet").exit_code == 0
    with Lease(store, model_name):
        line = error_line(run("analyse", "--model", model_name, "--quiet"))
    assert line.startswith(
        f"Error: model '{model_name}' is being loaded or analysed by {socket.gethostname()} pid {os.getpid()}"
    )


def test_delete_asks_then_removes_every_node_of_the_model(run, store, model_name, qwen_folder, neo4j_driver):
    folder, _, n_tokens = qwen_folder
    assert run("load", folder, "--name", model_name, "--k", K, "--quiet").exit_code == 0  # with its analysis

    refused = run("delete", model_name)  # stdin is not a terminal: no silent deletion
    assert error_line(refused) == (
        f"Error: not deleting model '{model_name}' ({n_tokens:,} tokens, k={K}, status complete) without confirmation: pass --yes"
    )
    assert graph_counts(store, model_name)["edges"] == n_tokens * K

    result = run("delete", model_name, "--yes")
    assert result.exit_code == 0, result.stderr
    assert re.fullmatch(
        rf"deleted model '{re.escape(model_name)}' \({n_tokens:,} tokens, k={K}, status complete\): [\d,]+ nodes and "
        r"their relationships in .+",
        result.stderr.strip().splitlines()[-1],
    )
    assert store.model(model_name) is None
    left, _, _ = neo4j_driver.execute_query(
        "MATCH (n) WHERE n.model = $m OR n.name = $m RETURN labels(n) AS labels", m=model_name
    )
    assert [r["labels"] for r in left] in ([], [["LoadLease"]])  # nothing of the model but a given-back lease
    assert store.read("lease_holder", model=model_name) == []
    assert error_line(run("delete", model_name, "--yes")).startswith(f"Error: model '{model_name}' is not loaded")


def test_delete_waits_for_no_one_and_an_interrupted_one_is_finished(run, store, model_name, qwen_folder):
    folder, _, n_tokens = qwen_folder
    assert run("load", folder, "--name", model_name, "--k", K, "--no-analysis", "--quiet").exit_code == 0
    with Lease(store, model_name):
        line = error_line(run("delete", model_name, "--yes"))
    assert line.startswith(
        f"Error: model '{model_name}' is being loaded or analysed by {socket.gethostname()} pid {os.getpid()}"
    )
    assert graph_counts(store, model_name) == {
        "status": "complete",
        "tokens": n_tokens,
        "edges": n_tokens * K,
        "wrong": 0,
    }

    store.write("model_mark_deleting", name=model_name)  # as a delete killed after its first step leaves it
    store.write("model_delete_batch", model=model_name, limit=3)
    assert error_line(run("neighbours", "a", "--model", model_name)) == (
        f"Error: model '{model_name}' is being deleted or its delete was interrupted; run `atlas delete {model_name}` to finish it"
    )
    assert run("delete", model_name, "--yes", "--quiet").exit_code == 0
    assert store.model(model_name) is None


def test_models_verify_finds_an_interrupted_load_missing_one_tokens_edges(
    run, store, model_name, qwen_folder, monkeypatch
):
    """A load that stopped before its last token's k edges: V*k - k edges, and --verify must not call that consistent."""
    table = load_embedding_table(str(qwen_folder[0]), name=model_name)
    real = pipeline.write_edge_batch
    last = len(table) - 1
    calls = []

    def stops_before_the_last_token(store_, statement, params):
        calls.append(1)
        if len(calls) == len(table):
            raise ConnectionResetError("the server went away")
        return real(store_, statement, params)

    monkeypatch.setattr(pipeline, "write_edge_batch", stops_before_the_last_token)
    with pytest.raises(ConnectionResetError):
        pipeline.load(store, table, K, batch_size=K)  # one source token per edge batch
    assert graph_counts(store, model_name)["edges"] == len(table) * K - K
    result = run("models", "--verify")
    assert result.exit_code == 1
    assert (
        f"{model_name}: 1 tokens have no neighbours, 0 expected (zero-norm rows); token ids {table.ids[last]} are not "
        "zero-norm rows; "
        f"{len(table) * K - K:,} SIMILAR_TO edges, {len(table) * K:,} expected"
    ) in result.stderr.splitlines()
