"""Serve the Neo4j Browser guide and stylesheet of token atlas over HTTP on this machine.

Neo4j Browser plays a guide with ``:play <url>`` and applies a stylesheet with
``:style <url>``, fetching both from the page, so the files need CORS headers (the
guide request carries ``Pragma`` and ``Cache-Control`` headers, which makes the page
send a preflight ``OPTIONS`` first). The host must be in the server's
``browser.remote_content_hostname_whitelist`` (the local launcher allows
``localhost`` and ``127.0.0.1``).

``serve`` starts a server in a background thread and returns it with the two
URLs; nothing is printed. The files come from the installed ``cypher`` package.

The server is meant for one Browser on this machine, and stays well-behaved with any
client: at most ``max_connections`` connections are served at once (more wait in the
listen queue), a connection that sends nothing for ``idle_timeout`` seconds is closed,
and a client that disconnects early ends its connection quietly.
"""

from __future__ import annotations

import errno
import socket
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from atlas.core.arguments import integer
from atlas.errors import InvalidArgument
from atlas.graph.queries import resource_text

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
GUIDE_FILE = "guide.html"
STYLE_FILE = "atlas.grass"
STYLE_URL_PLACEHOLDER = "__ATLAS_STYLE_URL__"  # in guide.html, replaced by the served stylesheet URL
IDLE_TIMEOUT = 10.0  # seconds a connection may stay silent (or not read) before it is closed
MAX_CONNECTIONS = 16  # connections served at once, one thread each; more wait to be accepted


@dataclass(frozen=True)
class Urls:
    """Where a running server serves the guide and the stylesheet."""

    guide: str
    style: str


def play_line(url: str) -> str:
    """The Browser command that plays the guide at ``url``.

    >>> play_line("http://127.0.0.1:8765/guide.html")
    ':play http://127.0.0.1:8765/guide.html'
    """
    return f":play {url}"


def style_line(url: str) -> str:
    """The Browser command that applies the stylesheet at ``url``.

    >>> style_line("http://127.0.0.1:8765/atlas.grass")
    ':style http://127.0.0.1:8765/atlas.grass'
    """
    return f":style {url}"


def urls(host: str, port: int) -> Urls:
    """The guide and stylesheet URLs of a server listening on ``host``:``port``.

    >>> urls("127.0.0.1", 8765).style
    'http://127.0.0.1:8765/atlas.grass'
    >>> urls("::1", 8765).guide
    'http://[::1]:8765/guide.html'
    """
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return Urls(guide=f"http://{netloc}/{GUIDE_FILE}", style=f"http://{netloc}/{STYLE_FILE}")


def stylesheet() -> str:
    """The GraSS stylesheet, as shipped."""
    return resource_text(STYLE_FILE)


def guide_html(style_url: str) -> str:
    """The guide, with its ``:style`` line pointing at ``style_url``."""
    return resource_text(GUIDE_FILE).replace(STYLE_URL_PLACEHOLDER, style_url)


class BrowserServer(ThreadingHTTPServer):
    """The HTTP server of the guide and stylesheet, running in a daemon thread once started.

    Each connection gets a thread, at most ``max_connections`` at a time; the accepting
    thread waits for a free one, so further connections queue in the kernel (up to
    ``request_queue_size``). A connection silent for ``idle_timeout`` seconds is closed.
    """

    daemon_threads = True
    request_queue_size = 64  # connections that may wait to be accepted while every handler is busy

    def __init__(
        self, address: tuple[str, int], idle_timeout: float = IDLE_TIMEOUT, max_connections: int = MAX_CONNECTIONS
    ):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        host, port = self.server_address[:2]
        self.urls = urls(str(host), port)
        self.idle_timeout = idle_timeout
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every request answered
        self._slots = threading.BoundedSemaphore(max_connections)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, name="atlas-browser", daemon=True)

    def process_request(self, request, client_address) -> None:
        """Serve the connection in its own thread once fewer than ``max_connections`` are being served."""
        while not self._slots.acquire(timeout=0.2):
            if self._stopping.is_set():
                self.shutdown_request(request)
                return
        thread = threading.Thread(
            target=self._serve_connection, args=(request, client_address), name="atlas-browser-connection", daemon=True
        )
        thread.start()

    def _serve_connection(self, request, client_address) -> None:
        try:
            self.process_request_thread(request, client_address)  # handles errors, then closes the connection
        finally:
            self._slots.release()

    def handle_error(self, request, client_address) -> None:
        """A client that disconnects early or goes silent is not an error; anything else is reported as usual."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def start(self) -> None:
        self._thread.start()

    def wait(self) -> None:
        """Block until the server is stopped (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def stop(self) -> None:
        """Stop serving and release the port; connections still open are closed by their idle timeout."""
        self._stopping.set()
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join()
        self.server_close()

    def __exit__(self, *exc) -> None:
        self.stop()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is ``localhost`` or a loopback IP address.

    >>> [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "example.org")]
    [True, True, True, False, False]
    """
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    idle_timeout: float = IDLE_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    allow_remote: bool = False,
) -> tuple[BrowserServer, Urls]:
    """Serve the guide and stylesheet on ``host``:``port`` (0 picks a free port) in a background thread.

    Returns the running server (stop it with ``server.stop()`` or a ``with`` block) and
    its URLs. Raises InvalidArgument when the port is out of range, already in use, or
    the host cannot be listened on, or when ``idle_timeout`` or ``max_connections`` is
    not positive, or when ``host`` is not a loopback address and ``allow_remote`` is not given
    (Browser plays guides only from the hosts its server allows, and the files are for this machine).
    """
    if not allow_remote and not is_loopback(host):
        raise InvalidArgument(
            f"host {host} is not a loopback address: Neo4j Browser plays guides only from hosts its server allows "
            "(the local one allows localhost and 127.0.0.1), and anyone on the network could fetch the files; "
            "serve on 127.0.0.1, or pass allow_remote=True (--allow-remote) to serve on it anyway"
        )
    if not 0 <= port <= 65535:
        raise InvalidArgument(f"port must be between 0 and 65535, got {port}")
    if not idle_timeout > 0:
        raise InvalidArgument(f"the idle timeout must be more than 0 seconds, got {idle_timeout}")
    integer(max_connections, "max_connections", 1)
    try:
        server = BrowserServer((host, port), idle_timeout, max_connections)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InvalidArgument(
                f"port {port} on {host} is already in use — pick another port (port=..., --port)"
            ) from None
        reason = exc.strerror or str(exc)
        raise InvalidArgument(
            f"cannot listen on {host}:{port} ({reason}) — pick another host (host=..., --host)"
        ) from None
    server.start()
    return server, server.urls


class _Handler(BaseHTTPRequestHandler):
    server: BrowserServer
    server_version = "token-atlas"
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        self.timeout = self.server.idle_timeout  # type: ignore[misc]  # StreamRequestHandler.setup gives it to the socket
        super().setup()

    def do_GET(self) -> None:
        self._answer(send_body=True)

    def do_HEAD(self) -> None:
        self._answer(send_body=False)

    def do_OPTIONS(self) -> None:
        # The CORS preflight Browser's guide request triggers with its Pragma and Cache-Control headers.
        self.send_response(HTTPStatus.NO_CONTENT)
        self._cors_headers()
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        requested = self.headers.get("Access-Control-Request-Headers")
        self.send_header("Access-Control-Allow-Headers", requested or "Pragma, Cache-Control")
        if self.headers.get("Access-Control-Request-Private-Network") == "true":
            self.send_header("Access-Control-Allow-Private-Network", "true")
        self.send_header("Access-Control-Max-Age", "600")
        self.send_header("Content-Length", "0")
        self.end_headers()
        self._record(HTTPStatus.NO_CONTENT)

    def _answer(self, send_body: bool) -> None:
        path = urlsplit(self.path).path
        if path == f"/{GUIDE_FILE}":
            status, kind, text = HTTPStatus.OK, "text/html; charset=utf-8", guide_html(self.server.urls.style)
        elif path == f"/{STYLE_FILE}":
            status, kind, text = HTTPStatus.OK, "text/plain; charset=utf-8", stylesheet()
        elif path == "/":
            status, kind = HTTPStatus.OK, "text/plain; charset=utf-8"
            text = "Run these in Neo4j Browser:\n" + play_line(self.server.urls.guide) + "\n"
            text += style_line(self.server.urls.style) + "\n"
        else:
            status, kind = HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8"
            text = f"not found; this server has /{GUIDE_FILE} and /{STYLE_FILE}\n"
        body = text.encode("utf-8")
        self.send_response(status)
        self._cors_headers()
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if send_body:
            self.wfile.write(body)
        self._record(status)

    def _cors_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")

    def _record(self, status: int) -> None:
        self.server.requests.append((self.command, urlsplit(self.path).path, int(status)))

    def log_message(self, format: str, *args) -> None:  # the library never prints
        pass
