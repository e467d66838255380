"""The local Neo4j launcher, against real servers.

The shared development server (``default_home()``, ports 7687/7474) is started if
needed and left running. One spare server on a temporary home and free ports
shares its jars and is the one that gets stopped; each test that needs it running
gets it running, so the tests pass in any order.
"""

from __future__ import annotations

import socket
import urllib.request
from pathlib import Path

import pytest
import yaml
from neo4j import GraphDatabase

from atlas import neo4j_local
from atlas.errors import InvalidArgument, LauncherError
from atlas.settings import DEFAULT_PASSWORD, DEFAULT_USER
from conftest import local_home

REPO = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _answers(server: neo4j_local.LocalServer, password: str = DEFAULT_PASSWORD) -> tuple:
    with GraphDatabase.driver(server.bolt_uri, auth=(DEFAULT_USER, password)) as driver:
        records, _, _ = driver.execute_query(
            "CALL dbms.components() YIELD versions, edition RETURN versions[0] AS version, edition",
            database_="neo4j",
        )
    return records[0]["version"], records[0]["edition"]


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def dev_server() -> neo4j_local.LocalServer:
    server, _ = neo4j_local.start(local_home())
    return server


@pytest.fixture(scope="module")
def spare_home(dev_server, tmp_path_factory):
    """A home and free ports for a second server that reuses the development server's jars; stopped at the end."""
    home = tmp_path_factory.mktemp("spare-neo4j")
    ports = {"bolt_port": _free_port(), "http_port": _free_port()}
    options = dict(ports, heap="512m", pagecache="128m", lib_dir=dev_server.home / "lib")
    yield home, options
    neo4j_local.stop(home)


@pytest.fixture
def spare(spare_home):
    """The second server, running (started now if an earlier test stopped it): (server, started, options)."""
    home, options = spare_home
    server, started = neo4j_local.start(home, **options)
    return server, started, options


# --- pure parts ------------------------------------------------------------------


@pytest.mark.parametrize(
    "output, major",
    [
        ('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment', 17),
        ('openjdk version "21" 2023-09-19', 21),
        ('openjdk version "25.0.1" 2025-10-21 LTS', 25),
        ('java version "1.8.0_292"', 8),
        ('openjdk version "11.0.2" 2019-01-15', 11),
        ("command not found", None),
    ],
)
def test_java_major_version(output, major):
    assert neo4j_local.java_major_version(output) == major


def test_conf_listens_locally_with_auth():
    conf = neo4j_local.neo4j_conf(17687, 17474, "1g", "512m").splitlines()
    assert "server.default_listen_address=127.0.0.1" in conf
    assert "server.bolt.listen_address=127.0.0.1:17687" in conf
    assert "server.http.listen_address=127.0.0.1:17474" in conf
    assert "server.https.enabled=false" in conf
    assert "dbms.security.auth_enabled=true" in conf
    assert "server.memory.heap.max_size=1g" in conf
    assert "server.memory.pagecache.size=512m" in conf
    assert f"browser.remote_content_hostname_whitelist={neo4j_local.REMOTE_CONTENT_ALLOWLIST}" in conf
    assert not any("$" in line for line in conf if not line.startswith("#"))


def test_compose_runs_the_same_server():
    service = yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"]["neo4j"]
    env = service["environment"]
    assert service["image"] == neo4j_local.DOCKER_IMAGE
    assert sorted(service["ports"]) == ["127.0.0.1:7474:7474", "127.0.0.1:7687:7687"]
    assert env["NEO4J_AUTH"] == f"neo4j/${{NEO4J_PASSWORD:-{DEFAULT_PASSWORD}}}"
    assert env["NEO4J_browser_remote__content__hostname__whitelist"] == neo4j_local.REMOTE_CONTENT_ALLOWLIST
    assert {"NEO4J_server_memory_heap_max__size", "NEO4J_server_memory_pagecache_size"} <= set(env)
    assert "NEO4J_PLUGINS" not in env
    assert service["healthcheck"]["test"]


# --- errors found before any server starts ---------------------------------------------


def test_missing_java_is_named(tmp_path):
    with pytest.raises(LauncherError, match=r"java not found at .*no-java"):
        neo4j_local.start(tmp_path / "home", java=tmp_path / "no-java")


def test_old_java_is_refused(tmp_path):
    old_java = tmp_path / "java"
    old_java.write_text("#!/bin/sh\necho 'openjdk version \"11.0.2\" 2019-01-15' >&2\n")
    old_java.chmod(0o755)
    with pytest.raises(LauncherError, match=r"needs Java 17 or 21, but .* is Java 11"):
        neo4j_local.start(tmp_path / "home", java=old_java)


def test_missing_maven_is_named_when_jars_are_needed(tmp_path):
    with pytest.raises(LauncherError, match=r"mvn not found at .*no-mvn"):
        neo4j_local.start(
            tmp_path / "home", bolt_port=_free_port(), http_port=_free_port(), mvn=tmp_path / "no-mvn"
        )
    assert not (tmp_path / "home" / "lib").exists()


def test_short_password_is_refused(tmp_path):
    with pytest.raises(InvalidArgument, match="at least 8 characters"):
        neo4j_local.start(tmp_path / "home", password="short")


def test_port_held_by_another_process_is_reported(dev_server, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(LauncherError, match=rf"port {port} is already in use by pid \d+"):
            neo4j_local.start(
                tmp_path / "home", bolt_port=port, http_port=_free_port(), lib_dir=dev_server.home / "lib"
            )
    assert neo4j_local.status(tmp_path / "home") is None


# --- the shared development server ---------------------------------------------------


@pytest.mark.neo4j
def test_dev_server_answers_cypher(dev_server):
    assert _answers(dev_server) == (neo4j_local.NEO4J_VERSION, "community")


@pytest.mark.neo4j
def test_dev_server_serves_browser(dev_server):
    assert dev_server.browser_url == f"{dev_server.http_url}/browser/"
    with urllib.request.urlopen(dev_server.browser_url, timeout=10) as response:
        assert response.status == 200
        assert b"<title>Neo4j Browser</title>" in response.read()


@pytest.mark.neo4j
def test_second_start_reuses_the_running_server(dev_server):
    again, started = neo4j_local.start(dev_server.home)
    assert started is False
    assert again == dev_server
    assert neo4j_local.status(dev_server.home) == dev_server


# --- the spare server, which is stopped ----------------------------------------------


@pytest.mark.neo4j
def test_spare_server_starts_on_its_own_ports(spare_home):
    home, options = spare_home
    neo4j_local.stop(home)  # whatever ran before: this test sees a start
    server, started = neo4j_local.start(home, **options)
    assert started is True
    assert server.bolt_uri == f"bolt://127.0.0.1:{options['bolt_port']}"
    assert (server.home / "run" / "neo4j.pid").read_text().strip() == str(server.pid)
    assert neo4j_local.status(server.home) == server
    assert _answers(server) == (neo4j_local.NEO4J_VERSION, "community")


@pytest.mark.neo4j
def test_wrong_password_for_a_running_server(spare):
    server, _, options = spare
    with pytest.raises(LauncherError, match=r"refused the password given \(the server is still running\)"):
        neo4j_local.start(server.home, password="not-the-password", **options)
    assert neo4j_local.status(server.home) == server


@pytest.mark.neo4j
def test_running_server_is_not_moved_to_other_ports(spare):
    server, _, options = spare
    with pytest.raises(LauncherError, match="already running .* stop it before"):
        neo4j_local.start(server.home, **dict(options, bolt_port=_free_port()))


@pytest.mark.neo4j
def test_stop_then_restart_with_wrong_password(spare):
    server, _, options = spare
    assert neo4j_local.stop(server.home) is True
    assert neo4j_local.status(server.home) is None
    assert not (server.home / "run" / "neo4j.pid").exists()
    assert not _listening(options["bolt_port"])
    assert neo4j_local.stop(server.home) is False

    with pytest.raises(LauncherError, match=r"refused the password given \(the server was stopped again\)"):
        neo4j_local.start(server.home, password="not-the-password", **options)
    assert neo4j_local.status(server.home) is None
    assert not _listening(options["bolt_port"])
