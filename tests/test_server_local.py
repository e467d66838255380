"""The local Neo4j launcher, against real servers.

The shared development server (``default_home()``, ports 7687/7474) is started if
needed and left running. One spare server on a temporary home and free ports
shares its jars and is the one that gets stopped (and re-passworded); each test
that needs it running gets it running, so the tests pass in any order.
"""

from __future__ import annotations

import socket
import stat
import threading
import urllib.request
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import error_line, free_port, given_password, jvms_of, password_for
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError

from atlas.cli import main
from atlas.errors import InvalidArgument, LauncherError
from atlas.server import local as neo4j_local
from atlas.server import passwords
from atlas.settings import DEFAULT_USER, password_file

REPO = Path(__file__).resolve().parents[1]


def _answers(server: neo4j_local.LocalServer, password: str) -> tuple:
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


def _kept(server: neo4j_local.LocalServer) -> str:
    """The password the server's home keeps."""
    password = neo4j_local.saved_password(server.home)
    assert password is not None, f"{password_file(server.home)} is missing"
    return password


def atlas(*args, env: dict | None = None):
    """``atlas ARGS`` in-process, with NEO4J_PASSWORD unset unless ``env`` sets it."""
    return CliRunner().invoke(
        main, [str(a) for a in args], env={"NEO4J_PASSWORD": None, **(env or {})}, catch_exceptions=False
    )


@pytest.fixture(scope="module")
def spare_home(dev_server, tmp_path_factory):
    """A home and free ports for a second server that reuses the development server's jars; stopped at the end."""
    home = tmp_path_factory.mktemp("spare-neo4j")
    ports = {"bolt_port": free_port(), "http_port": free_port()}
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
    assert (
        env["NEO4J_AUTH"] == "neo4j/${NEO4J_PASSWORD:?set NEO4J_PASSWORD}"
    )  # no default: compose refuses to start without one
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
        neo4j_local.start(tmp_path / "home", bolt_port=free_port(), http_port=free_port(), mvn=tmp_path / "no-mvn")
    assert not (tmp_path / "home" / "lib").exists()


def test_a_new_password_never_starts_with_a_dash(monkeypatch):
    drawn = iter(["-reads-as-an-option-xxxxx", "Abc-def_ghi-jkl_mno-pqrs"])
    monkeypatch.setattr(passwords.secrets, "token_urlsafe", lambda n: next(drawn))
    assert passwords.new_password() == "Abc-def_ghi-jkl_mno-pqrs"


def test_short_password_is_refused(tmp_path):
    with pytest.raises(InvalidArgument, match="at least 8 characters"):
        neo4j_local.start(tmp_path / "home", password="short")


def test_port_held_by_another_process_is_reported(dev_server, tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(LauncherError, match=rf"port {port} is already in use by pid \d+"):
            neo4j_local.start(tmp_path / "home", bolt_port=port, http_port=free_port(), lib_dir=dev_server.home / "lib")
    assert neo4j_local.status(tmp_path / "home") is None


# --- the shared development server ---------------------------------------------------


def test_dev_server_answers_cypher(dev_server):
    assert _answers(dev_server, password_for(dev_server.bolt_uri)) == (neo4j_local.NEO4J_VERSION, "community")


def test_dev_server_serves_browser(dev_server):
    assert dev_server.browser_url == f"{dev_server.http_url}/browser/"
    with urllib.request.urlopen(dev_server.browser_url, timeout=10) as response:
        assert response.status == 200
        assert b"<title>Neo4j Browser</title>" in response.read()


def test_second_start_reuses_the_running_server(dev_server):
    again, started = neo4j_local.start(dev_server.home, password=given_password())
    assert started is False
    assert again == dev_server
    assert neo4j_local.status(dev_server.home) == dev_server


# --- the spare server, which is stopped ----------------------------------------------


def test_spare_server_starts_on_its_own_ports(spare_home):
    home, options = spare_home
    neo4j_local.stop(home)  # whatever ran before: this test sees a start
    server, started = neo4j_local.start(home, **options)
    assert started is True
    assert server.bolt_uri == f"bolt://127.0.0.1:{options['bolt_port']}"
    assert (server.home / "run" / "neo4j.pid").read_text().strip() == str(server.pid)
    assert neo4j_local.status(server.home) == server
    assert _answers(server, _kept(server)) == (neo4j_local.NEO4J_VERSION, "community")


def test_wrong_password_for_a_running_server(spare):
    server, _, options = spare
    with pytest.raises(LauncherError, match=r"refused the password given \(the server is still running\)"):
        neo4j_local.start(server.home, password="not-the-password", **options)
    assert neo4j_local.status(server.home) == server


def test_running_server_is_not_moved_to_other_ports(spare):
    server, _, options = spare
    with pytest.raises(LauncherError, match=r"already running .* stop it before"):
        neo4j_local.start(server.home, **dict(options, bolt_port=free_port()))


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


# --- a private server: its password, its folders, its Browser address -----------------


def test_first_start_keeps_a_random_password_privately(spare):
    server, _, _ = spare
    password = _kept(server)
    assert len(password) >= 20
    assert stat.S_IMODE(password_file(server.home).stat().st_mode) == 0o600
    for folder in (server.home, *(server.home / name for name in ("conf", "data", "logs", "run"))):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    shared = []
    for path in server.home.rglob("*"):
        try:
            if path.lstat().st_mode & 0o077:
                shared.append(path)
        except FileNotFoundError:  # Neo4j removed it meanwhile
            pass
    assert shared == [], "files others can read or enter"
    assert _answers(server, password)[1] == "community"
    with pytest.raises(AuthError):
        _answers(server, "token-atlas")


def test_given_password_never_shows_on_a_command_line(dev_server, tmp_path):
    home = (tmp_path / "home").resolve()
    password = '-pass word "quoted" \\ back #no-comment @no-file é'  # a leading "-" is no option either
    seen, done = [], threading.Event()

    def watch():  # every process's command line, all through the start
        while not done.is_set():
            for proc in Path("/proc").iterdir():
                try:
                    args = (proc / "cmdline").read_bytes()
                except OSError:
                    continue
                if password.encode() in args or b"#no-comment" in args:
                    seen.append(args)
            done.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        server, started = neo4j_local.start(
            home,
            password=password,
            bolt_port=free_port(),
            http_port=free_port(),
            heap="512m",
            pagecache="128m",
            lib_dir=dev_server.home / "lib",
        )
    finally:
        done.set()
        watcher.join()
    try:
        assert started is True
        assert seen == []
        assert not list((home / "run").glob("*.args")), "the argument file is removed"
        assert _kept(server) == password
        assert _answers(server, password)[1] == "community"
    finally:
        neo4j_local.stop(home)


def test_commands_use_the_kept_password(spare):
    server, _, _ = spare
    env = {"NEO4J_URI": server.bolt_uri, "ATLAS_NEO4J_HOME": str(server.home)}
    models = atlas("models", "--json", env=env)
    assert models.exit_code == 0, models.stderr
    shown = atlas("db", "password", env=env)
    assert shown.exit_code == 0 and shown.stdout == _kept(server) + "\n"
    status = atlas("db", "status", env=env)
    assert status.exit_code == 0 and status.stdout.rstrip().endswith(f"password {password_file(server.home)}")
    given = atlas("models", "--password", "not-the-password", env=env)  # a given password wins
    assert "refused user 'neo4j': wrong password?" in error_line(given)


def test_kept_password_is_only_sent_to_its_own_server(spare):
    server, _, _ = spare
    line = error_line(atlas("models", "--uri", "bolt://127.0.0.1:1", "--home", server.home))
    assert line == (
        "Error: no Neo4j password given for bolt://127.0.0.1:1: give it (password=..., --password or NEO4J_PASSWORD) "
        f"(the password kept in {password_file(server.home)} is only sent to its own server, {server.bolt_uri})"
    )


def test_no_password_and_no_local_server(tmp_path):
    home = tmp_path / "never-started"
    line = error_line(atlas("models", "--uri", "bolt://127.0.0.1:7687", "--home", home))
    assert line == (
        f"Error: no Neo4j password given for bolt://127.0.0.1:7687, and no local server was set up in {home}: "
        "start one with `atlas db start` (it makes a password and keeps it), or give one (password=..., --password or NEO4J_PASSWORD)"
    )


def test_home_without_a_password_file(spare):
    """A home set up before token atlas kept passwords: commands say what to do; `db password --new` makes one."""
    server, _, _ = spare
    old, kept = _kept(server), password_file(server.home)
    env = {"NEO4J_URI": server.bolt_uri, "ATLAS_NEO4J_HOME": str(server.home)}
    kept.unlink()
    try:
        assert error_line(atlas("models", env=env)) == (
            f"Error: {kept} does not exist (the home was set up before token atlas kept its password): give the "
            "password (password=..., --password or NEO4J_PASSWORD; token-atlas, unless you chose another), and replace it "
            "with a private one with `atlas db password --new`"
        )
        assert atlas("models", env={**env, "NEO4J_PASSWORD": old}).exit_code == 0
        status = atlas("db", "status", env=env)
        assert status.stdout.rstrip().endswith("password (not kept)") and "atlas db password --new" in status.stderr
        assert error_line(atlas("db", "password", env=env)).startswith(f"Error: {kept} does not exist")
        changed = atlas("--verbose", "db", "password", "--new", env={**env, "NEO4J_PASSWORD": old})
        assert changed.exit_code == 0, changed.stderr
        assert changed.stdout == ""
        assert changed.stderr.endswith(f"Neo4j has a new password for user neo4j, kept in {kept}\n")
        assert old not in changed.stderr and kept.read_text() not in changed.stderr, "--verbose shows no password"
    finally:
        if not kept.exists():  # put the old one back for the next tests
            kept.write_text(old)
            kept.chmod(0o600)
    new = _kept(server)
    assert new != old and stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert _answers(server, new)[1] == "community"
    with pytest.raises(AuthError):
        _answers(server, old)
    assert atlas("models", env=env).exit_code == 0


def test_load_prints_the_browser_address_of_its_server(spare, qwen_folder):
    server, _, options = spare
    env = {"NEO4J_URI": server.bolt_uri, "ATLAS_NEO4J_HOME": str(server.home)}
    result = atlas("load", qwen_folder[0], "--name", "browser-address", "--k", 2, "--quiet", env=env)
    assert result.exit_code == 0, result.stderr
    assert f"Neo4j Browser: http://127.0.0.1:{options['http_port']}/browser/" in result.stderr.splitlines()


def test_a_start_that_does_not_come_up_is_stopped_again(dev_server, tmp_path):
    home = (tmp_path / "home").resolve()
    bolt_port = free_port()
    with pytest.raises(LauncherError, match=r"did not answer .* within 1s, so it was stopped again"):
        neo4j_local.start(
            home,
            bolt_port=bolt_port,
            http_port=free_port(),
            heap="512m",
            pagecache="128m",
            timeout=1,
            lib_dir=dev_server.home / "lib",
        )
    assert jvms_of(home) == []
    assert not (home / "run" / "neo4j.pid").exists()
    assert not _listening(bolt_port)
