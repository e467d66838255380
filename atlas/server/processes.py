"""The local server's JVM processes: launching one detached, its pid file and addresses, telling whether it runs and who holds its ports, stopping it."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from atlas.errors import LauncherError
from atlas.server.home import last_line, write_private
from atlas.settings import HOST

_ENTRY_POINT = "org.neo4j.server.CommunityEntryPoint"
ADMIN_TOOL = "org.neo4j.cli.AdminTool"
UMASK = 0o077  # for the JVMs: Neo4j's data, logs and auth.ini are readable by their owner only
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


@dataclass(frozen=True)
class LocalServer:
    """A running server started from ``home`` by :func:`atlas.server.local.start`."""

    home: Path
    pid: int
    bolt_uri: str
    http_url: str
    browser_url: str
    log_path: Path


def launch(java: str, lib: Path, home: Path, heap: str) -> LocalServer:
    """Start the JVM detached (own session, reparented away from us) and write its pid file."""
    console = home / "logs" / "console.log"
    command = [
        java,
        f"-Xms{heap}",
        f"-Xmx{heap}",
        *_JVM_FLAGS,
        "-cp",
        f"{lib}/*",
        _ENTRY_POINT,
        f"--home-dir={home}",
        f"--config-dir={home / 'conf'}",
    ]
    # sh starts the JVM in the background and exits at once, so the JVM is
    # nobody's child here: it survives this process and never lingers as our zombie.
    script = 'log=$1; shift; "$@" </dev/null >"$log" 2>&1 & echo $!'
    result = subprocess.run(
        ["sh", "-c", script, "sh", str(console), *command],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env=java_env(home),
        cwd=home,
        start_new_session=True,
        umask=UMASK,
    )
    if result.returncode != 0 or not result.stdout.strip().isdigit():
        raise LauncherError(f"cannot launch Neo4j: {result.stderr.strip() or 'sh failed'}")
    pid = int(result.stdout.strip())
    write_private(_pid_file(home), f"{pid}\n")
    return local_server(home, pid)


def stop_failed_start(server: LocalServer) -> None:
    """Stop the JVM of a start that did not come up (if it still runs) and remove its pid file."""
    if is_server_of(server.pid, server.home):
        terminate(server.home, server.pid, 60)
    _pid_file(server.home).unlink(missing_ok=True)


def terminate(home: Path, pid: int, timeout: float) -> None:
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


def java_env(home: Path) -> dict[str, str]:
    return {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}


def _pid_file(home: Path) -> Path:
    return home / "run" / "neo4j.pid"


def read_pid(home: Path) -> int | None:
    try:
        text = _pid_file(home).read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def running_pid(home: Path) -> int | None:
    """The pid of the live server of ``home``; a stale pid file is removed."""
    pid = read_pid(home)
    if pid is not None and is_server_of(pid, home):
        return pid
    _pid_file(home).unlink(missing_ok=True)
    return None


def is_server_of(pid: int, home: Path) -> bool:
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


def conf_ports(home: Path) -> dict[str, int] | None:
    """The Bolt and HTTP ports in the neo4j.conf of ``home`` (``{"bolt": 7687, "http": 7474}``), or None before a first start."""
    try:
        conf = (home / "conf" / "neo4j.conf").read_text(encoding="utf-8")
    except OSError:
        return None
    ports = dict(re.findall(r"^server\.(bolt|http)\.listen_address=[^:\n]*:(\d+)$", conf, re.MULTILINE))
    return {name: int(port) for name, port in ports.items()} if len(ports) == 2 else None


def local_server(home: Path, pid: int) -> LocalServer:
    """The addresses of the server of ``home``, read back from the neo4j.conf it was started with."""
    ports = conf_ports(home)
    if ports is None:
        raise LauncherError(
            f"{home / 'conf' / 'neo4j.conf'} is missing or names no Bolt and HTTP ports; start the server again"
        )
    http_url = f"http://{HOST}:{ports['http']}"
    return LocalServer(
        home=home,
        pid=pid,
        bolt_uri=f"bolt://{HOST}:{ports['bolt']}",
        http_url=http_url,
        browser_url=f"{http_url}/browser/",
        log_path=home / "logs" / "neo4j.log",
    )


def check_port_free(port: int, home: Path) -> None:
    """Raise if something already listens on HOST:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((HOST, port))
            return
        except OSError:
            pass
    owner = _port_owner(port)
    if owner and is_server_of(owner[0], home):
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


def accepts_tcp(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def serves_browser(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def failure_detail(home: Path) -> str:
    """The last error of this run: console.log is rewritten at each launch, neo4j.log is read from its last start."""
    needles = ("ERROR", "Exception:", "Error:")
    line = last_line(home / "logs" / "console.log", needles) or last_line(
        home / "logs" / "neo4j.log", needles, after="INFO  Starting..."
    )
    return line[:300] if line else "no error was logged"
