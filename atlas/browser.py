"""Serve the Neo4j Browser guide and stylesheet of token atlas over HTTP on this machine.

Neo4j Browser plays a guide with ``:play <url>`` and applies a stylesheet with
``:style <url>``, fetching both from the page, so the files need CORS headers (the
guide request carries ``Pragma`` and ``Cache-Control`` headers, which makes the page
send a preflight ``OPTIONS`` first). The host must be in the server's
``browser.remote_content_hostname_whitelist`` (the local launcher allows
``localhost`` and ``127.0.0.1``).

``serve`` starts a server in a background thread and returns it with the two
URLs; nothing is printed. The files come from the installed ``cypher`` package.
"""

from __future__ import annotations

import errno
import socket
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from atlas.errors import InvalidArgument
from atlas.queries import resource_text

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
GUIDE_FILE = "guide.html"
STYLE_FILE = "atlas.grass"
STYLE_URL_PLACEHOLDER = "__ATLAS_STYLE_URL__"  # in guide.html, replaced by the served stylesheet URL


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
    """The HTTP server of the guide and stylesheet, running in a daemon thread once started."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int]):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        host, port = self.server_address[:2]
        self.urls = urls(host, port)
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status) of every request answered
        self._thread = threading.Thread(target=self.serve_forever, name="atlas-browser", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wait(self) -> None:
        """Block until the server is stopped (Ctrl-C raises KeyboardInterrupt here)."""
        while self._thread.is_alive():
            self._thread.join(timeout=0.5)

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread.is_alive():
            self.shutdown()
            self._thread.join()
        self.server_close()

    def __exit__(self, *exc) -> None:
        self.stop()


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> tuple[BrowserServer, Urls]:
    """Serve the guide and stylesheet on ``host``:``port`` (0 picks a free port) in a background thread.

    Returns the running server (stop it with ``server.stop()`` or a ``with`` block) and
    its URLs. Raises InvalidArgument when the port is out of range, already in use, or
    the host cannot be listened on.
    """
    if not 0 <= port <= 65535:
        raise InvalidArgument(f"port must be between 0 and 65535, got {port}")
    try:
        server = BrowserServer((host, port))
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise InvalidArgument(f"port {port} on {host} is already in use — pick another port with --port") from None
        reason = exc.strerror or str(exc)
        raise InvalidArgument(f"cannot listen on {host}:{port} ({reason}) — pick another host with --host") from None
    server.start()
    return server, server.urls


class _Handler(BaseHTTPRequestHandler):
    server: BrowserServer
    server_version = "token-atlas"
    protocol_version = "HTTP/1.1"

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
