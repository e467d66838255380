"""Shared fixtures. The end-to-end tests run against a real Neo4j, found in this order:

1. a throwaway container (testcontainers), when a Docker engine answers;
2. the server named by NEO4J_URI (with NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE);
3. the project's own launcher (``atlas.server.local``), which reuses the shared
   development server if it runs, or starts it and stops it again at the end.

Without NEO4J_PASSWORD the password is found as the CLI finds it: the password file
that ``atlas db start`` keeps in the local server's home (ATLAS_NEO4J_HOME or the default).

If none of these gives a Neo4j, the tests that need one fail with the reason.
Tests using these fixtures get the ``neo4j`` marker, so ``-m "not neo4j"`` skips them.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from atlas.errors import AtlasError
from atlas.server import local as neo4j_local
from atlas.settings import DEFAULT_DATABASE, DEFAULT_USER, Settings, default_home

NEO4J_FIXTURES = {"neo4j_settings", "neo4j_driver", "dev_server", "spare_home"}  # fixtures that need or start a Neo4j


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if NEO4J_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.neo4j)


def _docker_answers() -> bool:
    try:
        import docker

        client = docker.from_env()
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:  # no docker package, no socket, no permission: all mean "no Docker"
        return False


def _neo4j_container(password: str):
    try:
        from testcontainers.community.neo4j import Neo4jContainer
    except ImportError:  # testcontainers before 4.13
        from testcontainers.neo4j import Neo4jContainer
    return Neo4jContainer(neo4j_local.DOCKER_IMAGE, password=password)


def local_home() -> Path:
    """The launcher's home: ATLAS_NEO4J_HOME as the CLI reads it, else the default."""
    return Path(os.environ["ATLAS_NEO4J_HOME"]) if os.environ.get("ATLAS_NEO4J_HOME") else default_home()


def given_password() -> str | None:
    """NEO4J_PASSWORD as the CLI reads it (None when unset)."""
    return os.environ.get("NEO4J_PASSWORD") or None


def password_for(uri: str) -> str:
    """The tests' password for ``uri``, found as the CLI finds it: NEO4J_PASSWORD, else the local server's password file."""
    try:
        return given_password() or neo4j_local.password_for(uri, local_home())
    except AtlasError as error:
        pytest.fail(f"no password for the tests' Neo4j: {error}", pytrace=False)


@pytest.fixture(scope="session")
def neo4j_settings() -> Iterator[Settings]:
    if _docker_answers():
        password = secrets.token_urlsafe(18)
        with _neo4j_container(password) as container:
            yield Settings(container.get_connection_url(), DEFAULT_USER, password)
        return

    if os.environ.get("NEO4J_URI"):
        uri = os.environ["NEO4J_URI"]
        yield Settings(
            uri=uri,
            user=os.environ.get("NEO4J_USER", DEFAULT_USER),
            password=password_for(uri),
            database=os.environ.get("NEO4J_DATABASE", DEFAULT_DATABASE),
        )
        return

    home = local_home()
    try:
        server, started = neo4j_local.start(home, password=given_password())
    except AtlasError as error:
        pytest.fail(f"no Neo4j for the tests (no Docker, no NEO4J_URI, launcher failed): {error}", pytrace=False)
    try:
        yield Settings(server.bolt_uri, DEFAULT_USER, password_for(server.bolt_uri))
    finally:
        if started:
            neo4j_local.stop(home)


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_settings: Settings):
    from neo4j import GraphDatabase

    with GraphDatabase.driver(neo4j_settings.uri, auth=(neo4j_settings.user, neo4j_settings.password)) as driver:
        driver.verify_connectivity()
        yield driver


@pytest.fixture(scope="session")
def qwen_folder(tmp_path_factory):
    """A tiny random-weight Qwen2 model folder: (folder, model, number of tokens)."""
    from tiny_models import tiny_qwen

    folder = tmp_path_factory.mktemp("tiny-qwen")
    model, n_tokens = tiny_qwen(folder)
    return folder, model, n_tokens


@pytest.fixture(scope="session")
def whole_minilm(neo4j_settings) -> Iterator[str]:
    """The whole bundled MiniLM (k=5, no analysis) with its vectors and vector index, under a fresh name; deleted at the end."""
    import uuid

    from atlas.files.model_files import default_source
    from atlas.graph.store import Store
    from atlas.loaders import load_embedding_table
    from atlas.loaders.pipeline import load

    name = f"test-whole-minilm-{uuid.uuid4().hex[:8]}"
    with Store(neo4j_settings) as store:
        try:
            load(store, load_embedding_table(default_source(), name=name), k=5, vectors=True)
            yield name
        finally:
            store.delete_model(name)


@pytest.fixture
def model_name(neo4j_settings, request) -> Iterator[str]:
    """A model name no other test uses; the model is deleted afterwards."""
    import uuid

    from atlas.graph.store import Store

    name = f"test-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"
    yield name
    with Store(neo4j_settings) as store:
        store.delete_model(name)


@pytest.fixture
def run(neo4j_settings):
    """Invoke ``atlas`` in-process with the tests' Neo4j settings in the environment; returns click's Result."""
    from click.testing import CliRunner

    from atlas.cli import main

    def invoke(*args, env=None):
        base = {
            "NEO4J_URI": neo4j_settings.uri,
            "NEO4J_USER": neo4j_settings.user,
            "NEO4J_PASSWORD": neo4j_settings.password,
            "NEO4J_DATABASE": neo4j_settings.database,
        }
        return CliRunner().invoke(main, [str(a) for a in args], env={**base, **(env or {})}, catch_exceptions=False)

    return invoke


# --- the views tests' two small models (tests/view_tables.py), loaded once per test module ---------


@pytest.fixture(scope="module")
def store(neo4j_settings):
    from atlas.graph.store import Store

    with Store(neo4j_settings) as store:
        yield store


def _loaded(store, table, k):
    from view_tables import Reference

    from atlas.loaders.pipeline import load

    load(store, table, k)
    try:
        yield table, Reference(table)
    finally:
        store.delete_model(table.name)


@pytest.fixture(scope="module")
def stored_minilm(store):
    """Real MiniLM pieces with a seeded random matrix, loaded under a fresh name: (table, Reference)."""
    import uuid

    from view_tables import MINILM_K, minilm_table

    yield from _loaded(store, minilm_table(f"test-views-minilm-{uuid.uuid4().hex[:8]}"), MINILM_K)


@pytest.fixture(scope="module")
def hand(store):
    """The hand-made byte-level vocabulary, loaded under a fresh name: (table, Reference)."""
    import uuid

    from view_tables import HAND_K, hand_table

    yield from _loaded(store, hand_table(f"test-views-hand-{uuid.uuid4().hex[:8]}"), HAND_K)


@pytest.fixture(scope="module")
def article_tokens():
    from view_tables import ARTICLE

    from atlas.core.prompt_tokens import tokenize
    from atlas.files.model_files import default_source, load_tokenizer

    return tokenize(load_tokenizer(default_source()), ARTICLE)


def free_port() -> int:
    """A TCP port nothing listens on now, for a throwaway server."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def jvms_of(home: Path) -> list[int]:
    """Pids of every Neo4j JVM started with ``--home-dir=home``, from /proc."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"--home-dir={home}".encode() in args:
            found.append(int(proc.name))
    return found


@pytest.fixture(scope="session")
def dev_server() -> neo4j_local.LocalServer:
    """The shared development server (started if needed, left running); throwaway servers share its jars."""
    server, _ = neo4j_local.start(local_home(), password=given_password())
    return server


def error_line(result) -> str:
    """The one line the CLI printed on stderr (and nothing on stdout), after a failure."""
    assert result.exit_code == 1, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- a missing Chromium is said at the end of the run, not only in -rs output -------------------

_SKIPPED_PAGES: list[str] = []


def pytest_runtest_logreport(report) -> None:
    if report.skipped and "browser" in report.keywords:
        _SKIPPED_PAGES.append(report.nodeid)


def pytest_terminal_summary(terminalreporter) -> None:
    from chromium import CHROMIUM

    if CHROMIUM is None and _SKIPPED_PAGES:
        terminalreporter.write_line(
            f"NOTICE: Chromium is not installed, so {len(_SKIPPED_PAGES)} browser tests were skipped: the HTML export, "
            "the vocabulary map and Neo4j Browser pages were not tested (apt-get install chromium, then run them)",
            yellow=True,
            bold=True,
        )
