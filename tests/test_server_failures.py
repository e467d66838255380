"""A Neo4j that dies or runs out of disk: the command ends soon, with one line that says what to do.

Each test runs a throwaway server on free ports, sharing the development server's jars,
and stops it. The disk tests give it a small tmpfs as its home, so they need root. The
loads run ``atlas`` as a real process, so its stderr is exactly what a terminal shows.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import free_port, jvms_of
from neo4j import GraphDatabase

from atlas.errors import LauncherError
from atlas.server import local as neo4j_local
from atlas.settings import DEFAULT_USER

REPO = Path(__file__).resolve().parents[1]
ATLAS = [sys.executable, "-c", "from atlas.cli import main; main()"]
BUNDLED_TOKENS = 30_522  # all-MiniLM-L6-v2, loaded by `atlas load` without a SOURCE


def throwaway(dev_server, home: Path, **options) -> tuple[neo4j_local.LocalServer, dict]:
    """Start a small server in ``home`` on free ports; returns it and the options to start it again."""
    options = (
        dict(
            bolt_port=free_port(), http_port=free_port(), heap="512m", pagecache="128m", lib_dir=dev_server.home / "lib"
        )
        | options
    )
    server, _ = neo4j_local.start(home, **options)
    return server, options


def atlas(server: neo4j_local.LocalServer, *args) -> subprocess.Popen:
    """``atlas ARGS`` as its own process against ``server``, with the password its home keeps."""
    env = {key: value for key, value in os.environ.items() if key != "NEO4J_PASSWORD"}
    env.update(
        NEO4J_URI=server.bolt_uri, NEO4J_USER=DEFAULT_USER, NEO4J_DATABASE="neo4j", ATLAS_NEO4J_HOME=str(server.home)
    )
    return subprocess.Popen(
        [*ATLAS, *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def query(server: neo4j_local.LocalServer, statement: str, **params) -> dict:
    with GraphDatabase.driver(server.bolt_uri, auth=(DEFAULT_USER, neo4j_local.saved_password(server.home))) as driver:
        records, _, _ = driver.execute_query(statement, params, database_="neo4j")
    return records[0].data()


def model(server: neo4j_local.LocalServer, name: str) -> tuple[str, int]:
    """The model's status and its edges counted in the graph."""
    row = query(
        server,
        "MATCH (m:Model {name: $name}) OPTIONAL MATCH (:Token {model: $name})-[r:SIMILAR_TO]->() "
        "RETURN m.status AS status, count(r) AS edges",
        name=name,
    )
    return row["status"], row["edges"]


def wait_for_edges(server: neo4j_local.LocalServer, load: subprocess.Popen, timeout: float = 600) -> None:
    """Wait until the load is writing SIMILAR_TO edges (it is the only load on this server)."""
    deadline = time.monotonic() + timeout
    while query(server, "MATCH ()-[r:SIMILAR_TO]->() RETURN count(r) AS n")["n"] == 0:
        assert load.poll() is None, f"the load ended before writing edges: {load.communicate()[1]}"
        assert time.monotonic() < deadline, "the load wrote no edges in time"
        time.sleep(0.2)


@pytest.fixture
def tmpfs(tmp_path):
    """``tmpfs(size)`` mounts a tmpfs of that size on a new folder; its server is stopped and it is unmounted after."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = []

    def mount(size: str) -> Path:
        folder = tmp_path / f"disk-{len(mounted)}"
        folder.mkdir()
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)], capture_output=True, text=True
        )
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(folder)
        return folder

    yield mount
    for folder in mounted:
        neo4j_local.stop(folder / "home")
        subprocess.run(["umount", str(folder)], check=True)


def test_server_killed_mid_load(dev_server, tmp_path):
    """kill -9 during a load: one line within seconds, the model stays loading, and a rerun after a restart finishes it."""
    home = (tmp_path / "home").resolve()
    server, options = throwaway(dev_server, home)
    name, k = "killed-mid-load", 5
    try:
        load = atlas(server, "load", "--name", name, "--k", str(k), "--quiet")
        wait_for_edges(server, load)
        os.kill(server.pid, signal.SIGKILL)
        killed = time.monotonic()
        out, err = load.communicate(timeout=600)
        seconds = time.monotonic() - killed
        print(f"\nNeo4j killed mid-load: the load ended {seconds:.1f} s later")
        assert (load.returncode, out) == (1, "")
        assert err.splitlines() == [
            f"Error: Neo4j at {server.bolt_uri} stopped answering during the load; model '{name}' stays 'loading': "
            "start Neo4j (`atlas db start`, or `docker compose up -d`) and run the same `atlas load` again to finish it"
        ]
        assert seconds < 40

        server, _ = neo4j_local.start(home, **options)
        assert model(server, name)[0] == "loading"
        again = atlas(server, "load", "--name", name, "--k", str(k), "--quiet")
        _, err = again.communicate(timeout=600)
        assert again.returncode == 0, err
        assert model(server, name) == ("complete", BUNDLED_TOKENS * k)
    finally:
        neo4j_local.stop(home)


def test_start_on_a_small_disk_is_refused(dev_server, tmpfs):
    home = tmpfs("400m") / "home"
    began = time.monotonic()
    with pytest.raises(LauncherError) as refused:
        throwaway(dev_server, home, timeout=60)
    print(f"\nrefused in {time.monotonic() - began:.1f} s")
    assert str(refused.value) == (
        f"only 400 MiB free on the disk of {home}, and Neo4j needs at least 1 GiB there to start; "
        "free some space, or choose a home on another disk (folder=..., --home or ATLAS_NEO4J_HOME)"
    )
    assert jvms_of(home) == []
    assert not (home / "run" / "neo4j.pid").exists()


def test_load_onto_a_disk_that_fills(dev_server, tmpfs):
    """A disk that fills during a load: the line names the full disk, how much is free and what to do."""
    disk = tmpfs("1100m")
    home = disk / "home"
    # a small page cache makes Neo4j write the store files out soon, so the disk fills early in the load
    server, _ = throwaway(dev_server, home, pagecache="16m")
    subprocess.run(
        ["fallocate", "-l", str(shutil.disk_usage(disk).free - (8 << 20)), str(disk / "ballast")], check=True
    )
    began = time.monotonic()
    load = atlas(server, "load", "--name", "disk-full", "--k", "10", "--quiet")
    out, err = load.communicate(timeout=600)
    print(f"\nthe disk filled: the load ended after {time.monotonic() - began:.1f} s, with {err.strip()!r}")
    assert (load.returncode, out) == (1, "")
    assert len(err.splitlines()) == 1, err
    assert re.fullmatch(
        rf"Error: Neo4j ran out of disk space \(\d+ MiB free on the disk of {re.escape(str(home))}\) and stopped "
        r"writing until it restarts: free some space, then restart it with `atlas db stop && atlas db start`; "
        r"then run the same `atlas load` again to finish model 'disk-full' \(it stays 'loading'\)",
        err.strip(),
    ), err


@pytest.mark.neo4j
def test_server_frozen_mid_load(dev_server, tmp_path):
    """kill -STOP during the edges: the server keeps its connections open and never answers; one line soon all the same."""
    home = (tmp_path / "home").resolve()
    server, _ = throwaway(dev_server, home)
    name = "frozen-mid-load"
    try:
        load = atlas(server, "load", "--name", name, "--k", "5", "--batch-size", "500", "--no-analysis", "--quiet")
        wait_for_edges(server, load)
        os.kill(server.pid, signal.SIGSTOP)
        frozen = time.monotonic()
        try:
            out, err = load.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            load.kill()
            load.communicate()
            pytest.fail("the load said nothing for 60 s after the server froze")
        seconds = time.monotonic() - frozen
        print(f"\nNeo4j frozen mid-load: the load ended {seconds:.1f} s later with {err.strip()!r}")
        assert (load.returncode, out) == (1, "")
        assert err.splitlines() == [
            f"Error: Neo4j at {server.bolt_uri} stopped answering during the load (no reply in 30 s); "
            f"model '{name}' stays 'loading': start Neo4j (`atlas db start`, or `docker compose up -d`) "
            "and run the same `atlas load` again to finish it"
        ]
        assert seconds < 45
    finally:
        os.kill(server.pid, signal.SIGCONT)
        neo4j_local.stop(home)
