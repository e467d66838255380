"""The local Neo4j server, for the library's users: start, stop, status and its password.

A thin face over :mod:`atlas.server.local`; ``home`` defaults to
``~/.cache/token-atlas/neo4j-<version>`` (the ``atlas db`` commands also read ``ATLAS_NEO4J_HOME``)::

    import atlas.db
    server = atlas.db.start()        # downloads Neo4j Community from Maven Central once
    print(server.browser_url, atlas.db.password())
"""

from __future__ import annotations

from pathlib import Path

from atlas.core.progress import Note
from atlas.errors import PasswordMissing
from atlas.server import local
from atlas.server.local import LocalServer
from atlas.settings import BOLT_PORT, HTTP_PORT, password_file, server_home

__all__ = [
    "LocalServer",
    "home",
    "new_password",
    "password",
    "password_kept",
    "play_line",
    "serve_guide",
    "start",
    "status",
    "stop",
    "style_line",
]


def home(folder: str | Path | None = None) -> Path:
    """The local server's folder: ``folder`` (made absolute), else the default.

    >>> str(home("/tmp/x"))
    '/tmp/x'
    """
    return server_home(folder)


def start(
    folder: str | Path | None = None,
    *,
    password: str | None = None,
    bolt_port: int = BOLT_PORT,
    http_port: int = HTTP_PORT,
    heap: str = "2g",
    pagecache: str = "2g",
    on_note: Note | None = None,
) -> tuple[LocalServer, bool]:
    """Download (once), configure and start the local server in the background, or find it running.

    Returns the server and whether this call started it. The first start chooses a random
    password and keeps it in ``HOME/password`` (owner-only), unless ``password`` is given.
    """
    return local.start(
        home(folder),
        password=password,
        bolt_port=bolt_port,
        http_port=http_port,
        heap=heap,
        pagecache=pagecache,
        on_note=on_note,
    )


def stop(folder: str | Path | None = None) -> bool:
    """Stop the server that :func:`start` started; False when none of ``folder`` runs."""
    return local.stop(home(folder))


def status(folder: str | Path | None = None) -> LocalServer | None:
    """The running local server of ``folder``, or None."""
    return local.status(home(folder))


def password_kept(folder: str | Path | None = None) -> bool:
    """Whether the password of the server of ``folder`` is kept in its password file."""
    return local.saved_password(home(folder)) is not None


def password(folder: str | Path | None = None) -> str:
    """The local server's password (for Neo4j Browser); PasswordMissing when none is kept."""
    where = home(folder)
    kept = local.saved_password(where)
    if kept is None:
        raise PasswordMissing(
            f"{password_file(where)} does not exist: start the server with `atlas db start` (the first start makes "
            "one), or, for a home set up before token atlas kept its password, run `atlas db password --new` "
            "with its password in --password or NEO4J_PASSWORD"
        )
    return kept


def new_password(folder: str | Path | None = None, current: str | None = None) -> str:
    """Give the running server a new random password and keep it; ``current`` when the file has none."""
    return local.change_password(home(folder), current)


def serve_guide(host: str = "127.0.0.1", port: int = 8765, allow_remote: bool = False):
    """Serve the Neo4j Browser guide and stylesheet over HTTP on this machine: ``(server, urls)``.

    ``server.wait()`` serves until interrupted, ``server.stop()`` ends it; ``urls.guide``
    and ``urls.style`` are what :func:`play_line` and :func:`style_line` turn into lines to
    paste into Neo4j Browser. A ``host`` that is not a loopback address is refused unless
    ``allow_remote``.
    """
    from atlas.server import guide

    return guide.serve(host, port, allow_remote=allow_remote)


def play_line(url: str) -> str:
    """``:play URL``, the Browser line that opens the guide."""
    from atlas.server import guide

    return guide.play_line(url)


def style_line(url: str) -> str:
    """``:style URL``, the Browser line that applies the stylesheet."""
    from atlas.server import guide

    return guide.style_line(url)
