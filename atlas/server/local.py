"""Run a local Neo4j Community server from Maven Central jars, without Docker: start, stop, status and its password.

A server lives in one home folder (``atlas.settings.default_home()`` unless told otherwise)::

    HOME/                private (0700), as are conf, data, logs and run
    HOME/password        the password of user neo4j (0600), chosen at the first start
    HOME/lib/            the jars (downloaded once with Maven; may be shared via ``lib_dir``)
    HOME/conf/neo4j.conf written on every start from ``atlas/neo4j/neo4j.conf``
    HOME/data/           the databases; the password is fixed when this is first created
    HOME/logs/           neo4j.log (the server's log) and console.log (JVM stdout/stderr)
    HOME/run/neo4j.pid   the pid of the server this module started

``start`` launches the server in its own process session so that it outlives the
caller, and waits until Bolt accepts the password and HTTP serves Neo4j Browser; a
server that does not come up is stopped again. The JVMs run with umask 077, so
Neo4j's own files are private too, and a password never appears on a command line.
``stop`` stops only a server whose pid file it wrote. Messages for the user go to an
optional ``on_note`` callback; nothing is printed.

The work is done by the modules beside this one: :mod:`atlas.server.provision` (the jars,
Java, neo4j.conf), :mod:`atlas.server.processes` (the JVMs and their pid files),
:mod:`atlas.server.passwords` and :mod:`atlas.server.home` (the home's private files,
locks and disk).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from atlas.core.progress import Note, ignore
from atlas.errors import InvalidArgument, LauncherError, PasswordMissing
from atlas.graph.queries import query
from atlas.server.home import (
    MIN_FREE_FIRST,
    check_free_disk,
    has_database,
    locked,
    make_home,
    make_private,
    write_private,
)
from atlas.server.passwords import (
    MIN_PASSWORD_LENGTH,
    login_password,
    new_password,
    saved_password,
    set_initial_password,
)
from atlas.server.processes import (
    LocalServer,
    accepts_tcp,
    check_port_free,
    conf_ports,
    failure_detail,
    is_server_of,
    launch,
    local_server,
    read_pid,
    running_pid,
    serves_browser,
    stop_failed_start,
    terminate,
)
from atlas.server.provision import REMOTE_CONTENT_ALLOWLIST, find_java, java_major_version, neo4j_conf, provision
from atlas.settings import (
    BOLT_PORT,
    DEFAULT_DATABASE,
    DEFAULT_USER,
    HOST,
    HTTP_PORT,
    LOOPBACK,
    MIN_FREE,
    NEO4J_VERSION,
    password_file,
    server_home,
)

__all__ = [
    "DOCKER_IMAGE",
    "NEO4J_VERSION",
    "REMOTE_CONTENT_ALLOWLIST",
    "LocalServer",
    "change_password",
    "java_major_version",
    "neo4j_conf",
    "password_for",
    "saved_password",
    "serves",
    "start",
    "status",
    "stop",
]

DOCKER_IMAGE = f"neo4j:{NEO4J_VERSION}-community"

_MEMORY = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")


def start(
    home: Path,
    password: str | None = None,
    bolt_port: int = BOLT_PORT,
    http_port: int = HTTP_PORT,
    heap: str = "2g",
    pagecache: str = "2g",
    timeout: float = 180,
    on_note: Note | None = None,
    *,
    java: str | Path | None = None,
    mvn: str | Path | None = None,
    lib_dir: Path | None = None,
) -> tuple[LocalServer, bool]:
    """Start the server of ``home`` (provisioning it first if needed) and wait until it answers.

    Returns the server and True if it was started by this call, False if a server
    started earlier from ``home`` was already running (it is reused as it is).
    At the first start (no database yet) ``password`` becomes the password of user
    neo4j (None: a random one) and is kept in the home's password file; later starts
    log in with ``password`` or, when it is None, with that file's.
    ``java`` and ``mvn`` are executables (default: found on PATH); ``lib_dir`` is
    the jar folder (default ``home/lib``), so several homes can share one download.
    """
    note = on_note or ignore
    home = server_home(home)
    lib = Path(lib_dir).expanduser().resolve() if lib_dir is not None else home / "lib"
    _check_arguments(password, bolt_port, http_port, heap, pagecache)
    make_home(home)

    with locked(home / "run" / "launcher.lock"):
        pid = running_pid(home)
        if pid is not None:
            running = local_server(home, pid)
            wanted = (f"bolt://{HOST}:{bolt_port}", f"http://{HOST}:{http_port}")
            if (running.bolt_uri, running.http_url) != wanted:
                raise LauncherError(
                    f"the Neo4j server of {home} is already running at {running.bolt_uri} "
                    f"and {running.http_url} (pid {pid}); stop it before starting it on other ports"
                )
            note(f"Neo4j is already running (pid {pid})")
            _wait_until_ready(running, login_password(home, password), timeout, started_now=False)
            return running, False

        java_exe = find_java(java, note)
        for port in (bolt_port, http_port):
            check_port_free(port, home)
        check_free_disk(home, MIN_FREE if has_database(home) else MIN_FREE_FIRST)
        provision(lib, mvn, note)
        make_private(home)

        write_private(home / "conf" / "neo4j.conf", neo4j_conf(bolt_port, http_port, heap, pagecache))
        if not has_database(home):
            password = password or saved_password(home) or new_password()
            write_private(password_file(home), password)
            note(f"setting the initial password (kept in {password_file(home)})")
            set_initial_password(java_exe, lib, home, password)
        else:
            password = login_password(home, password)

        note(f"starting Neo4j {NEO4J_VERSION} on bolt://{HOST}:{bolt_port}")
        server = launch(java_exe, lib, home, heap)
        try:
            _wait_until_ready(server, password, timeout, started_now=True)
        except BaseException:  # not ready, a wrong password, Ctrl-C: no half-started server stays behind
            stop_failed_start(server)
            raise
        note(f"Neo4j is up: {server.browser_url}")
        return server, True


def stop(home: Path, timeout: float = 60) -> bool:
    """Stop the server started from ``home`` (SIGTERM, then SIGKILL after ``timeout`` seconds).

    Returns False if none was running. Only the pid in ``home/run/neo4j.pid`` is
    signalled, and only if that process is a Neo4j server of ``home``.
    """
    home = server_home(home)
    if not (home / "run").is_dir():
        return False
    with locked(home / "run" / "launcher.lock"):
        pid = running_pid(home)
        if pid is None:
            return False
        terminate(home, pid, timeout)
        return True


def status(home: Path) -> LocalServer | None:
    """The running server of ``home``, or None if none is running."""
    home = server_home(home)
    pid = read_pid(home)
    if pid is None or not is_server_of(pid, home):
        return None
    return local_server(home, pid)


def serves(home: Path, uri: str) -> bool:
    """True if ``uri`` is the Bolt address of the local server of ``home`` (as its neo4j.conf says)."""
    ports = conf_ports(server_home(home))
    parts = urlsplit(uri)
    try:
        port = parts.port or BOLT_PORT
    except ValueError:
        return False
    return ports is not None and (parts.hostname or "").lower() in LOOPBACK and port == ports["bolt"]


def password_for(uri: str, home: Path) -> str:
    """The password to log in to ``uri`` with when none is given: the password file of ``home``, if ``uri`` is its server.

    The file's password is never sent anywhere else.
    """
    home = server_home(home)
    ports = conf_ports(home)
    if ports is None:
        raise PasswordMissing(
            f"no Neo4j password given for {uri}, and no local server was set up in {home}: start one with "
            "`atlas db start` (it makes a password and keeps it), or give one (password=..., --password or NEO4J_PASSWORD)"
        )
    if not serves(home, uri):
        raise PasswordMissing(
            f"no Neo4j password given for {uri}: give it (password=..., --password or NEO4J_PASSWORD) "
            f"(the password kept in {password_file(home)} is only sent to its own server, bolt://{HOST}:{ports['bolt']})"
        )
    return login_password(home, None)


def change_password(home: Path, current: str | None = None) -> str:
    """Give the running server of ``home`` a new random password and keep it in its password file.

    Logs in with ``current`` (None: the password file's) and returns the new password.
    The file is replaced only once the server has taken the new password.
    """
    import neo4j
    from neo4j.exceptions import AuthError, DriverError, Neo4jError

    home = server_home(home)
    with locked(home / "run" / "launcher.lock"):
        server = status(home)
        if server is None:
            raise LauncherError(f"no Neo4j started from {home} is running; start it with `atlas db start` first")
        old = login_password(home, current)
        new = new_password()
        pending = password_file(home).with_name("password.new")
        write_private(pending, new)
        try:
            with (
                _no_driver_debug_log(),
                neo4j.GraphDatabase.driver(server.bolt_uri, auth=(DEFAULT_USER, old), connection_timeout=10) as driver,
            ):
                driver.execute_query(query("password_change"), old=old, new=new, database_="system")
        except AuthError:
            pending.unlink(missing_ok=True)
            raise LauncherError(
                f"Neo4j in {home} refused the current password; give it (current=..., --password or NEO4J_PASSWORD)"
            ) from None
        except (DriverError, Neo4jError, OSError) as exc:
            pending.unlink(missing_ok=True)
            raise LauncherError(
                f"Neo4j in {home} did not change its password: {getattr(exc, 'message', None) or exc}"
            ) from None
        os.replace(pending, password_file(home))
        return new


def _check_arguments(password: str | None, bolt_port: int, http_port: int, heap: str, pagecache: str) -> None:
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidArgument(f"the Neo4j password must have at least {MIN_PASSWORD_LENGTH} characters")
    if password is not None and ("\n" in password or "\r" in password):
        raise InvalidArgument("the Neo4j password cannot contain line breaks")
    for name, port in (("Bolt", bolt_port), ("HTTP", http_port)):
        if not 1 <= port <= 65535:
            raise InvalidArgument(f"the {name} port must be between 1 and 65535, not {port}")
    if bolt_port == http_port:
        raise InvalidArgument(f"the Bolt and HTTP ports must differ (both are {bolt_port})")
    for name, size in (("heap", heap), ("page cache", pagecache)):
        if not _MEMORY.match(size):
            raise InvalidArgument(f"the {name} size must look like 512m or 2g, not {size!r}")


def _wait_until_ready(server: LocalServer, password: str, timeout: float, started_now: bool) -> None:
    """Poll until Bolt accepts ``password`` and HTTP serves Browser; raise LauncherError otherwise."""
    import neo4j
    from neo4j.exceptions import AuthError, DriverError, Neo4jError

    bolt_port = int(server.bolt_uri.rsplit(":", 1)[1])
    deadline = time.monotonic() + timeout
    while True:
        if not is_server_of(server.pid, server.home):
            raise LauncherError(
                f"Neo4j exited while starting: {failure_detail(server.home)} "
                f"(read {server.log_path} and {server.home / 'logs' / 'console.log'})"
            )
        if accepts_tcp(HOST, bolt_port):
            try:
                with neo4j.GraphDatabase.driver(
                    server.bolt_uri,
                    auth=(DEFAULT_USER, password),
                    connection_timeout=5,
                    max_connection_lifetime=30,
                    max_transaction_retry_time=2,  # this loop is the retry
                ) as driver:
                    driver.verify_connectivity()
                    driver.execute_query(query("ping"), database_=DEFAULT_DATABASE)
                if serves_browser(server.browser_url):
                    return
            except AuthError as error:
                raise LauncherError(_password_message(server.home, started_now)) from error
            except (DriverError, Neo4jError, OSError):
                pass
        if time.monotonic() > deadline:
            stopped = ", so it was stopped again" if started_now else ""
            raise LauncherError(
                f"Neo4j (pid {server.pid}) did not answer on {server.bolt_uri} and {server.browser_url} "
                f"within {timeout:g}s{stopped}; read {server.log_path}"
            )
        time.sleep(0.5)


def _password_message(home: Path, started_now: bool) -> str:
    state = "was stopped again" if started_now else "is still running"
    return (
        f"Neo4j in {home} refused the password given (the server {state}); its password was fixed "
        f"when {home / 'data'} was created. Pass that password, or, to set a new one, stop the server "
        f"and delete {home / 'data' / 'dbms'}, {home / 'data' / 'databases' / 'system'} and "
        f"{home / 'data' / 'transactions' / 'system'} (users only; the graph stays)"
    )


@contextlib.contextmanager
def _no_driver_debug_log() -> Iterator[None]:
    """Keep the Neo4j driver from logging at debug level meanwhile: it logs every statement with its parameters."""
    log = logging.getLogger("neo4j")
    level = log.level
    log.setLevel(max(level, logging.INFO))
    try:
        yield
    finally:
        log.setLevel(level)
