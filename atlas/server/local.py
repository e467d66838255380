"""Provision and run a local Neo4j Community server from Maven Central jars, without Docker.

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
optional ``say`` callback; nothing is printed.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Callable, Iterator
from urllib.parse import urlsplit

from atlas.errors import InvalidArgument, LauncherError, PasswordMissing
from atlas.graph.queries import query
from atlas.core.units import size_text
from atlas.settings import (
    MIN_FREE, BOLT_PORT, DEFAULT_DATABASE, DEFAULT_USER, HOST, HTTP_PORT, LOOPBACK, NEO4J_VERSION, password_file,
)

BROWSER_VERSION = "5.24.0"
DOCKER_IMAGE = f"neo4j:{NEO4J_VERSION}-community"
DOWNLOAD_SIZE = "~133 MB"
MIN_JAVA = 17
SUPPORTED_JAVA = (17, 21)
MIN_PASSWORD_LENGTH = 8  # Neo4j's dbms.security.auth_minimum_password_length
# Bytes free on the home's disk to start: a first start preallocates 256 MiB of transaction
# log for each of its two databases; later the next 256 MiB log and the store's growth need room.
# A database that fails with less than MIN_FREE left is put down to the full disk.
MIN_FREE_FIRST = 1 << 30
REMOTE_CONTENT_ALLOWLIST = "localhost,127.0.0.1"

_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
_ADMIN_TOOL = "org.neo4j.cli.AdminTool"
_MEMORY = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")
_PRIVATE = ("conf", "data", "logs", "run")  # the home's folders the server writes, all owner-only
_UMASK = 0o077  # for the JVMs: Neo4j's data, logs and auth.ini are readable by their owner only
# The JVM flags Neo4j's own launcher script adds, minus the ones that only
# matter for production (pre-touching the heap, flight recorder).
_JVM_FLAGS = (
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-Dlog4j2.disable.jmx=true",
    "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
)

Say = Callable[[str], None]  # a message for the user


@dataclass(frozen=True)
class LocalServer:
    """A running server started by this module from ``home``."""

    home: Path
    pid: int
    bolt_uri: str
    http_url: str
    browser_url: str
    log_path: Path


def start(
    home: Path,
    password: str | None = None,
    bolt_port: int = BOLT_PORT,
    http_port: int = HTTP_PORT,
    heap: str = "2g",
    pagecache: str = "2g",
    timeout: float = 180,
    say: Say | None = None,
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
    say = say or (lambda message: None)
    home = Path(home).expanduser().resolve()
    lib = Path(lib_dir).expanduser().resolve() if lib_dir is not None else home / "lib"
    _check_arguments(password, bolt_port, http_port, heap, pagecache)
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        for folder in _PRIVATE:
            (home / folder).mkdir(exist_ok=True, mode=0o700)
    except OSError as exc:
        raise LauncherError(
            f"cannot create the Neo4j home {home}: {exc.strerror}; choose a writable folder with --home or ATLAS_NEO4J_HOME"
        ) from None

    with _locked(home / "run" / "launcher.lock"):
        pid = _running_pid(home)
        if pid is not None:
            running = _server(home, pid)
            wanted = (f"bolt://{HOST}:{bolt_port}", f"http://{HOST}:{http_port}")
            if (running.bolt_uri, running.http_url) != wanted:
                raise LauncherError(
                    f"the Neo4j server of {home} is already running at {running.bolt_uri} "
                    f"and {running.http_url} (pid {pid}); stop it before starting it on other ports"
                )
            say(f"Neo4j is already running (pid {pid})")
            _wait_until_ready(running, _login_password(home, password), timeout, started_now=False)
            return running, False

        java_exe = _find_java(java, say)
        for port in (bolt_port, http_port):
            _check_port_free(port, home)
        _check_free_disk(home, MIN_FREE if _has_database(home) else MIN_FREE_FIRST)
        _provision(lib, mvn, say)
        _make_private(home)

        _write_private(home / "conf" / "neo4j.conf", neo4j_conf(bolt_port, http_port, heap, pagecache))
        if not _has_database(home):
            password = password or saved_password(home) or _new_password()
            _write_private(password_file(home), password)
            say(f"setting the initial password (kept in {password_file(home)})")
            _set_initial_password(java_exe, lib, home, password)
        else:
            password = _login_password(home, password)

        say(f"starting Neo4j {NEO4J_VERSION} on bolt://{HOST}:{bolt_port}")
        server = _launch(java_exe, lib, home, heap)
        try:
            _wait_until_ready(server, password, timeout, started_now=True)
        except BaseException:  # not ready, a wrong password, Ctrl-C: no half-started server stays behind
            _stop_failed_start(server)
            raise
        say(f"Neo4j is up: {server.browser_url}")
        return server, True


def stop(home: Path, timeout: float = 60) -> bool:
    """Stop the server started from ``home`` (SIGTERM, then SIGKILL after ``timeout`` seconds).

    Returns False if none was running. Only the pid in ``home/run/neo4j.pid`` is
    signalled, and only if that process is a Neo4j server of ``home``.
    """
    home = Path(home).expanduser().resolve()
    if not (home / "run").is_dir():
        return False
    with _locked(home / "run" / "launcher.lock"):
        pid = _running_pid(home)
        if pid is None:
            return False
        _terminate(home, pid, timeout)
        return True


def status(home: Path) -> LocalServer | None:
    """The running server of ``home``, or None if none is running."""
    home = Path(home).expanduser().resolve()
    pid = _read_pid(home)
    if pid is None or not _is_server_of(pid, home):
        return None
    return _server(home, pid)


def saved_password(home: Path) -> str | None:
    """The password kept in the password file of ``home``, or None if it has none."""
    try:
        text = password_file(Path(home).expanduser()).read_text(encoding="utf-8")
    except OSError:
        return None
    return text.rstrip("\r\n") or None


def serves(home: Path, uri: str) -> bool:
    """True if ``uri`` is the Bolt address of the local server of ``home`` (as its neo4j.conf says)."""
    ports = _ports(Path(home).expanduser().resolve())
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
    home = Path(home).expanduser().resolve()
    ports = _ports(home)
    if ports is None:
        raise PasswordMissing(
            f"no Neo4j password given for {uri}, and no local server was set up in {home}: start one with "
            "`atlas db start` (it makes a password and keeps it), or give one with --password or NEO4J_PASSWORD"
        )
    if not serves(home, uri):
        raise PasswordMissing(
            f"no Neo4j password given for {uri}: give it with --password or NEO4J_PASSWORD "
            f"(the password kept in {password_file(home)} is only sent to its own server, bolt://{HOST}:{ports['bolt']})"
        )
    return _login_password(home, None)


def change_password(home: Path, current: str | None = None) -> str:
    """Give the running server of ``home`` a new random password and keep it in its password file.

    Logs in with ``current`` (None: the password file's) and returns the new password.
    The file is replaced only once the server has taken the new password.
    """
    import neo4j
    from neo4j.exceptions import AuthError, DriverError, Neo4jError

    home = Path(home).expanduser().resolve()
    with _locked(home / "run" / "launcher.lock"):
        server = status(home)
        if server is None:
            raise LauncherError(f"no Neo4j started from {home} is running; start it with `atlas db start` first")
        old = _login_password(home, current)
        new = _new_password()
        pending = password_file(home).with_name("password.new")
        _write_private(pending, new)
        try:
            with _no_driver_debug_log(), neo4j.GraphDatabase.driver(
                server.bolt_uri, auth=(DEFAULT_USER, old), connection_timeout=10
            ) as driver:
                driver.execute_query(query("password_change"), old=old, new=new, database_="system")
        except AuthError:
            pending.unlink(missing_ok=True)
            raise LauncherError(
                f"Neo4j in {home} refused the current password; give it with --password or NEO4J_PASSWORD"
            ) from None
        except (DriverError, Neo4jError, OSError) as exc:
            pending.unlink(missing_ok=True)
            raise LauncherError(f"Neo4j in {home} did not change its password: {getattr(exc, 'message', None) or exc}") from None
        os.replace(pending, password_file(home))
        return new


def neo4j_conf(bolt_port: int, http_port: int, heap: str, pagecache: str) -> str:
    """The text of ``neo4j.conf`` for a local-only server on the given ports and memory sizes."""
    template = resources.files("atlas.server").joinpath("neo4j/neo4j.conf").read_text(encoding="utf-8")
    return Template(template).substitute(
        bolt_port=bolt_port,
        http_port=http_port,
        heap=heap,
        pagecache=pagecache,
        allowlist=REMOTE_CONTENT_ALLOWLIST,
    )


def java_major_version(version_output: str) -> int | None:
    """The major Java version in the output of ``java -version``, or None if there is none.

    >>> java_major_version('openjdk version "17.0.15" 2025-04-15')
    17
    >>> java_major_version('java version "1.8.0_292"')
    8
    """
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2) is not None:
        return int(match.group(2))
    return major


# --- arguments and environment -------------------------------------------------


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


def _find_java(java: str | Path | None, say: Say) -> str:
    if java is None:
        found = shutil.which("java")
        if found is None:
            raise LauncherError(
                "java is not on PATH; install Java 17 or 21 (apt-get install openjdk-17-jre-headless)"
            )
        java = found
    java = str(java)
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        raise LauncherError(f"java not found at {java}; install Java 17 or 21 or point to its java") from None
    major = java_major_version(result.stderr + result.stdout)
    if major is None:
        raise LauncherError(f"cannot tell the Java version of {java} (`{java} -version` failed)")
    if major < MIN_JAVA:
        raise LauncherError(
            f"Neo4j {NEO4J_VERSION} needs Java 17 or 21, but {java} is Java {major}; "
            "install openjdk-17-jre-headless or point to a newer java"
        )
    if major not in SUPPORTED_JAVA:
        say(f"warning: Neo4j {NEO4J_VERSION} supports Java 17 and 21; {java} is Java {major}")
    return java


def _find_mvn(mvn: str | Path | None) -> str:
    if mvn is None:
        found = shutil.which("mvn")
        if found is None:
            raise LauncherError(
                "mvn (Apache Maven) is not on PATH and is needed once to download the Neo4j jars; "
                "install it (apt-get install maven)"
            )
        return found
    if not Path(mvn).is_file() or not os.access(mvn, os.X_OK):
        raise LauncherError(f"mvn not found at {mvn}; install Apache Maven or point to its mvn")
    return str(mvn)


def _has_database(home: Path) -> bool:
    """True once the server of ``home`` has started: its system database (and password) exist."""
    return (home / "data" / "databases" / "system").exists()


def _check_free_disk(home: Path, need: int) -> None:
    """Refuse to start a server whose disk cannot hold its transaction logs: Neo4j would hang, then fail."""
    free = shutil.disk_usage(home).free
    if free < need:
        raise LauncherError(
            f"only {size_text(free)} free on the disk of {home}, and Neo4j needs at least {size_text(need)} there "
            "to start; free some space, or choose a home on another disk with --home or ATLAS_NEO4J_HOME"
        )


def _check_port_free(port: int, home: Path) -> None:
    """Raise if something already listens on HOST:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
            return
        except OSError:
            pass
    owner = _port_owner(port)
    if owner and _is_server_of(owner[0], home):
        raise LauncherError(
            f"a Neo4j server of {home} (pid {owner[0]}) holds port {port} but has no pid file; "
            f"stop it with `kill {owner[0]}` and start again"
        )
    who = f"pid {owner[0]} ({owner[1]})" if owner else "another process"
    raise LauncherError(
        f"port {port} is already in use by {who}, not by the Neo4j server of {home}; "
        "stop that process or choose other ports"
    )


def _port_owner(port: int) -> tuple[int, str] | None:
    """The pid and command line of the process listening on ``port``, where /proc tells."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                    inodes.add(fields[9])
    if not inodes:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
                    rest = " ".join(args[1:]).strip()
                    rest = rest if len(rest) <= 100 else "..." + rest[-100:]
                    return int(proc.name), f"{Path(args[0]).name} {rest}".strip()
    return None


# --- provisioning ---------------------------------------------------------------


def _jars_present(lib: Path) -> bool:
    return all(
        (lib / jar).is_file()
        for jar in (f"neo4j-{NEO4J_VERSION}.jar", f"neo4j-server-{NEO4J_VERSION}.jar", f"neo4j-browser-{BROWSER_VERSION}.jar")
    )


def _provision(lib: Path, mvn: str | Path | None, say: Say) -> None:
    """Download the server's jars into ``lib`` with Maven, once; the folder appears only when complete."""
    if _jars_present(lib):
        return
    lib.parent.mkdir(parents=True, exist_ok=True)
    with _locked(lib.parent / f".{lib.name}.lock"):
        if _jars_present(lib):
            return
        mvn_exe = _find_mvn(mvn)
        say(f"downloading Neo4j {NEO4J_VERSION} jars ({DOWNLOAD_SIZE}, once) into {lib}")
        template = resources.files("atlas.server").joinpath("neo4j/pom.xml").read_text(encoding="utf-8")
        pom = Template(template).substitute(neo4j_version=NEO4J_VERSION, browser_version=BROWSER_VERSION)
        with tempfile.TemporaryDirectory(prefix=f".{lib.name}-", dir=lib.parent) as work:
            work = Path(work)
            (work / "pom.xml").write_text(pom, encoding="utf-8")
            jars = work / "lib"
            log = lib.parent / "provision.log"
            with open(log, "w", encoding="utf-8") as out:
                result = subprocess.run(
                    [mvn_exe, "-B", "-q", "-Dstyle.color=never", "-f", str(work / "pom.xml"), "dependency:copy-dependencies",
                     f"-DoutputDirectory={jars}", "-DincludeScope=runtime"],
                    stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=work,
                )
            if result.returncode != 0 or not _jars_present(jars):
                detail = _last_line(log, ("[ERROR]", "ERROR")) or f"mvn exited with {result.returncode}"
                raise LauncherError(f"downloading the Neo4j jars failed: {detail} (read {log})")
            if lib.exists():
                shutil.rmtree(lib)
            jars.rename(lib)


# --- starting and stopping ------------------------------------------------------


def _java_env(home: Path) -> dict[str, str]:
    return {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}


def _new_password() -> str:
    """A random password: 24 characters from 144 random bits, safe in URLs and shells, not starting with "-"."""
    while True:
        password = secrets.token_urlsafe(18)
        if not password.startswith("-"):  # it would read as an option on a command line
            return password


def _login_password(home: Path, password: str | None) -> str:
    """``password`` if given, else the one kept in the home's password file."""
    password = password or saved_password(home)
    if password is None:
        raise PasswordMissing(
            f"{password_file(home)} does not exist (the home was set up before token atlas kept its password): "
            "give the password with --password or NEO4J_PASSWORD (token-atlas, unless you chose another), and "
            "replace it with a private one with `atlas db password --new`"
        )
    return password


def _make_private(home: Path) -> None:
    """Make the home and the folders the server writes readable by their owner only (homes made before were not)."""
    try:
        for folder in (home, *(home / name for name in _PRIVATE)):
            folder.chmod(0o700)
    except OSError as exc:
        raise LauncherError(f"cannot make the Neo4j home {home} private: {exc.strerror} ({exc.filename})") from None


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one step, as a file only its owner can read."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with os.fdopen(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(partial, path)


def _private_log(path: Path):
    """``path`` opened for writing a log, readable by its owner only."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8")


def _argument_file(password: str) -> str:
    r"""The password as a picocli argument file holds it: after ``--`` (so that a leading "-" is no option),
    in double quotes, with backslashes and quotes escaped.

    >>> print(_argument_file('-say "hi" \\ bye'), end="")
    --
    "-say \"hi\" \\ bye"
    """
    return '--\n"' + password.replace("\\", "\\\\").replace('"', '\\"') + '"\n'


def _set_initial_password(java: str, lib: Path, home: Path, password: str) -> None:
    """Run ``neo4j-admin dbms set-initial-password`` with the password in a private argument file (``@FILE``),
    so that it never shows on a command line (``ps``, /proc)."""
    log = home / "logs" / "set-initial-password.log"
    arguments = home / "run" / "initial-password.args"
    _write_private(arguments, _argument_file(password))
    try:
        with _private_log(log) as out:
            result = subprocess.run(
                [java, "-Dfile.encoding=UTF-8", "-cp", f"{lib}/*", _ADMIN_TOOL, "dbms", "set-initial-password", f"@{arguments}"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env=_java_env(home), cwd=home, timeout=300, umask=_UMASK,
            )
    finally:
        arguments.unlink(missing_ok=True)
    if result.returncode != 0:
        detail = _last_line(log, ("Exception:", "ERROR")) or f"exit status {result.returncode}"
        raise LauncherError(f"setting the initial Neo4j password failed: {detail} (read {log})")


def _launch(java: str, lib: Path, home: Path, heap: str) -> LocalServer:
    """Start the JVM detached (own session, reparented away from us) and write its pid file."""
    console = home / "logs" / "console.log"
    command = [
        java, f"-Xms{heap}", f"-Xmx{heap}", *_JVM_FLAGS, "-cp", f"{lib}/*", _ENTRY_POINT,
        f"--home-dir={home}", f"--config-dir={home / 'conf'}",
    ]
    # sh starts the JVM in the background and exits at once, so the JVM is
    # nobody's child here: it survives this process and never lingers as our zombie.
    script = 'log=$1; shift; "$@" </dev/null >"$log" 2>&1 & echo $!'
    result = subprocess.run(
        ["sh", "-c", script, "sh", str(console), *command],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, env=_java_env(home), cwd=home,
        start_new_session=True, umask=_UMASK,
    )
    if result.returncode != 0 or not result.stdout.strip().isdigit():
        raise LauncherError(f"cannot launch Neo4j: {result.stderr.strip() or 'sh failed'}")
    pid = int(result.stdout.strip())
    _write_private(_pid_file(home), f"{pid}\n")
    return _server(home, pid)


def _wait_until_ready(server: LocalServer, password: str, timeout: float, started_now: bool) -> None:
    """Poll until Bolt accepts ``password`` and HTTP serves Browser; raise LauncherError otherwise."""
    import neo4j
    from neo4j.exceptions import AuthError, DriverError, Neo4jError

    bolt_port = int(server.bolt_uri.rsplit(":", 1)[1])
    deadline = time.monotonic() + timeout
    while True:
        if not _is_server_of(server.pid, server.home):
            raise LauncherError(
                f"Neo4j exited while starting: {_failure_detail(server.home)} "
                f"(read {server.log_path} and {server.home / 'logs' / 'console.log'})"
            )
        if _accepts_tcp(HOST, bolt_port):
            try:
                with neo4j.GraphDatabase.driver(
                    server.bolt_uri, auth=(DEFAULT_USER, password), connection_timeout=5,
                    max_connection_lifetime=30, max_transaction_retry_time=2,  # this loop is the retry
                ) as driver:
                    driver.verify_connectivity()
                    driver.execute_query(query("ping"), database_=DEFAULT_DATABASE)
                if _serves_browser(server.browser_url):
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


def _stop_failed_start(server: LocalServer) -> None:
    """Stop the JVM of a start that did not come up (if it still runs) and remove its pid file."""
    if _is_server_of(server.pid, server.home):
        _terminate(server.home, server.pid, 60)
    _pid_file(server.home).unlink(missing_ok=True)


def _terminate(home: Path, pid: int, timeout: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        if not _wait_gone(pid, 30):
            raise LauncherError(f"Neo4j (pid {pid}) of {home} did not exit after SIGKILL")
    _pid_file(home).unlink(missing_ok=True)


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


# --- small helpers --------------------------------------------------------------


def _pid_file(home: Path) -> Path:
    return home / "run" / "neo4j.pid"


def _read_pid(home: Path) -> int | None:
    try:
        text = _pid_file(home).read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _running_pid(home: Path) -> int | None:
    """The pid of the live server of ``home``; a stale pid file is removed."""
    pid = _read_pid(home)
    if pid is not None and _is_server_of(pid, home):
        return pid
    _pid_file(home).unlink(missing_ok=True)
    return None


def _is_server_of(pid: int, home: Path) -> bool:
    """True if ``pid`` is a live Neo4j server started with ``--home-dir=home``."""
    if not _alive(pid):
        return False
    try:
        args = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
    except FileNotFoundError:
        return not Path("/proc/self").exists()  # no /proc to ask: trust the pid file
    except OSError:
        return False
    return _ENTRY_POINT.encode() in args and f"--home-dir={home}".encode() in args


def _alive(pid: int) -> bool:
    """True while any thread of ``pid`` runs: a JVM's main thread can be a zombie
    while its other threads still shut down and hold the ports."""
    tasks = Path("/proc") / str(pid) / "task"
    if Path("/proc/self").exists():
        try:
            threads = list(tasks.iterdir())
        except OSError:
            return False
        for thread in threads:
            try:
                state = (thread / "stat").read_text().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue  # that thread has just exited
            if state not in ("Z", "X"):
                return True
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _ports(home: Path) -> dict[str, int] | None:
    """The Bolt and HTTP ports in the neo4j.conf of ``home`` (``{"bolt": 7687, "http": 7474}``), or None before a first start."""
    try:
        conf = (home / "conf" / "neo4j.conf").read_text(encoding="utf-8")
    except OSError:
        return None
    ports = dict(re.findall(r"^server\.(bolt|http)\.listen_address=[^:\n]*:(\d+)$", conf, re.MULTILINE))
    return {name: int(port) for name, port in ports.items()} if len(ports) == 2 else None


def _server(home: Path, pid: int) -> LocalServer:
    """The addresses of the server of ``home``, read back from the neo4j.conf it was started with."""
    ports = _ports(home)
    if ports is None:
        raise LauncherError(f"{home / 'conf' / 'neo4j.conf'} is missing or names no Bolt and HTTP ports; start the server again")
    http_url = f"http://{HOST}:{ports['http']}"
    return LocalServer(
        home=home,
        pid=pid,
        bolt_uri=f"bolt://{HOST}:{ports['bolt']}",
        http_url=http_url,
        browser_url=f"{http_url}/browser/",
        log_path=home / "logs" / "neo4j.log",
    )


def _accepts_tcp(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _serves_browser(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _failure_detail(home: Path) -> str:
    """The last error of this run: console.log is rewritten at each launch, neo4j.log is read from its last start."""
    needles = ("ERROR", "Exception:", "Error:")
    line = _last_line(home / "logs" / "console.log", needles) or _last_line(
        home / "logs" / "neo4j.log", needles, after="INFO  Starting..."
    )
    return line[:300] if line else "no error was logged"


def _last_line(path: Path, needles: tuple[str, ...], after: str | None = None) -> str | None:
    """The last non-empty line of ``path`` containing one of ``needles`` (any line if none given),
    looking only below the last line containing ``after`` when that is given."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return None
    if after is not None:
        starts = [i for i, line in enumerate(lines) if after in line]
        lines = lines[starts[-1]:] if starts else lines
    for line in reversed(lines):
        if line.strip() and (not needles or any(needle in line for needle in needles)):
            return line.strip()
    return None


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


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` so concurrent starts and stops of one home take turns."""
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
