"""Shared fixtures. The end-to-end tests run against a real Neo4j, found in this order:

1. a throwaway container (testcontainers), when a Docker engine answers;
2. the server named by NEO4J_URI (with NEO4J_USER, NEO4J_PASSWORD, NEO4J_DATABASE);
3. the project's own launcher (``atlas.neo4j_local``), which reuses the shared
   development server if it runs, or starts it and stops it again at the end.

If none of these gives a Neo4j, the tests that need one fail with the reason.
Tests using these fixtures get the ``neo4j`` marker, so ``-m "not neo4j"`` skips them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterator

import pytest

from atlas import neo4j_local
from atlas.errors import AtlasError

NEO4J_FIXTURES = {"neo4j_settings", "neo4j_driver"}


@dataclass(frozen=True)
class Neo4jSettings:
    """Where the tests' Neo4j is and how to log in."""

    uri: str
    user: str
    password: str
    database: str = "neo4j"


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


def _neo4j_container():
    try:
        from testcontainers.community.neo4j import Neo4jContainer
    except ImportError:  # testcontainers before 4.13
        from testcontainers.neo4j import Neo4jContainer
    return Neo4jContainer(neo4j_local.DOCKER_IMAGE, password=neo4j_local.DEFAULT_PASSWORD)


def local_home():
    """The launcher's home: ATLAS_NEO4J_HOME as the CLI reads it, else the default."""
    from pathlib import Path

    return Path(os.environ["ATLAS_NEO4J_HOME"]) if os.environ.get("ATLAS_NEO4J_HOME") else neo4j_local.default_home()


@pytest.fixture(scope="session")
def neo4j_settings() -> Iterator[Neo4jSettings]:
    if _docker_answers():
        with _neo4j_container() as container:
            yield Neo4jSettings(container.get_connection_url(), "neo4j", neo4j_local.DEFAULT_PASSWORD)
        return

    if os.environ.get("NEO4J_URI"):
        yield Neo4jSettings(
            uri=os.environ["NEO4J_URI"],
            user=os.environ.get("NEO4J_USER", neo4j_local.DEFAULT_USER),
            password=os.environ.get("NEO4J_PASSWORD", neo4j_local.DEFAULT_PASSWORD),
            database=os.environ.get("NEO4J_DATABASE", "neo4j"),
        )
        return

    home = local_home()
    try:
        server, started = neo4j_local.start(home)
    except AtlasError as error:
        pytest.fail(f"no Neo4j for the tests (no Docker, no NEO4J_URI, launcher failed): {error}", pytrace=False)
    try:
        yield Neo4jSettings(server.bolt_uri, neo4j_local.DEFAULT_USER, neo4j_local.DEFAULT_PASSWORD)
    finally:
        if started:
            neo4j_local.stop(home)


@pytest.fixture(scope="session")
def neo4j_driver(neo4j_settings: Neo4jSettings):
    from neo4j import GraphDatabase

    with GraphDatabase.driver(
        neo4j_settings.uri, auth=(neo4j_settings.user, neo4j_settings.password)
    ) as driver:
        driver.verify_connectivity()
        yield driver


@pytest.fixture(scope="session")
def qwen_folder(tmp_path_factory):
    """A tiny random-weight Qwen2 model folder: (folder, model, number of tokens)."""
    from tiny_models import tiny_qwen

    folder = tmp_path_factory.mktemp("tiny-qwen")
    model, n_tokens = tiny_qwen(folder)
    return folder, model, n_tokens


@pytest.fixture
def model_name(neo4j_settings, request) -> Iterator[str]:
    """A model name no other test uses; the model is deleted afterwards."""
    import uuid

    from atlas.store import Settings, Store

    name = f"test-{request.node.name[:40]}-{uuid.uuid4().hex[:8]}"
    yield name
    with Store(Settings(neo4j_settings.uri, neo4j_settings.user, neo4j_settings.password, neo4j_settings.database)) as store:
        store.delete_model(name)
