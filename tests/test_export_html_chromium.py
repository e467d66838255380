"""The HTML export in real headless Chromium, driven over the DevTools protocol (on a pipe)."""

from __future__ import annotations

import base64
import fcntl
import json
import math
import os
import random
import select
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from atlas.export import display_text, write
from atlas.subgraph import Edge, Node, Subgraph

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
NASTY = ["</script><b>\"x\"&'", "line\nbreak", "tab\there", "nul\x00esc\x1b", "\\", "🙂🚀", "'", "<!--", "\u2028"]
WORDS = "river lake sea ocean stream pond brook bay delta creek".split()


def sample_subgraph(n: int = 60, k: int = 3, seed: int = 7) -> Subgraph:
    """~n tokens in three clusters with exact top-k cosine edges, nasty texts, groups and seeds."""
    rng = random.Random(seed)
    centres = [[rng.gauss(0, 1) for _ in range(8)] for _ in range(3)]
    vectors, nodes = [], []
    for i in range(n):
        centre = centres[i % 3]
        vectors.append([c + rng.gauss(0, 0.35) for c in centre])
        word = NASTY[i] if i < len(NASTY) else WORDS[i % len(WORDS)] + str(i)
        text = (" " if i % 4 == 0 else "") + word
        nodes.append(
            Node(
                id=100 + i,
                text=text,
                raw=text.replace(" ", "Ġ"),
                special=i == 59,
                variant=WORDS[i % len(WORDS)] if i >= len(NASTY) else None,
                seed=i % 11 == 0,
                members=(100 + i, 1000 + i) if i % 13 == 0 else (),
            )
        )

    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b)) / math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))

    edges = []
    for i, a in enumerate(vectors):
        scored = sorted(((cosine(a, b), j) for j, b in enumerate(vectors) if j != i), reverse=True)[:k]
        edges += [Edge(100 + i, 100 + j, s, r) for r, (s, j) in enumerate(scored, start=1)]
    return Subgraph("test/model-ü", 'river words </script><b>"t"&', nodes, edges)


class DevTools:
    """A Chromium started with --remote-debugging-pipe: JSON messages ending in NUL on fds 3 and 4."""

    def __init__(self, profile: Path):
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # Move the browser's ends above 10 so dup2 onto 3 and 4 cannot clobber either.
        child_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
        child_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
        os.close(to_browser_r)
        os.close(from_browser_w)

        def wire():
            os.dup2(child_r, 3)
            os.dup2(child_w, 4)

        args = [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            "--no-default-browser-check",
            "--hide-scrollbars",
            "--window-size=1280,860",
            f"--user-data-dir={profile / 'profile'}",
            "--remote-debugging-pipe",
        ]
        self._log = open(profile / "chromium.log", "wb")
        self.process = subprocess.Popen(
            args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log, preexec_fn=wire, pass_fds=(3, 4)
        )
        os.close(child_r)
        os.close(child_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 60) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._receive(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply["result"]
            self.events.append(reply)

    def _receive(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer over the DevTools pipe")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=10)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._to_browser)
        os.close(self._from_browser)
        self._log.close()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The sample export opened in headless Chromium and settled: (devtools, session, subgraph, file url)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    folder = tmp_path_factory.mktemp("html")
    subgraph = sample_subgraph()
    (path,) = write(subgraph, "html", str(folder / "atlas.html"))
    url = Path(path).resolve().as_uri()
    browser = DevTools(folder)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            browser.send(f"{domain}.enable", session=session)
        browser.send("Page.navigate", {"url": url}, session=session)
        deadline = time.monotonic() + 90  # a guard against a hang, not a speed check
        while not evaluate(browser, session, "window.atlasReady === true"):
            if time.monotonic() > deadline:
                pytest.fail("the page never set window.atlasReady")
            time.sleep(0.2)
        yield browser, session, subgraph, url, folder
    finally:
        browser.close()


def evaluate(browser: DevTools, session: str, expression: str):
    result = browser.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=session)
    if "exceptionDetails" in result:
        raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
    return result["result"].get("value")


def test_draws_every_node_and_edge(page):
    browser, session, subgraph, _, _ = page
    assert evaluate(browser, session, "window.atlasNodeCount") == len(subgraph.nodes) == 60
    assert evaluate(browser, session, "window.atlasEdgeCount") == len(subgraph.edges) == 180


def test_token_text_arrives_intact_and_inert(page):
    browser, session, subgraph, _, _ = page
    data = "JSON.parse(document.getElementById('graph-data').textContent)"
    texts = evaluate(browser, session, f"{data}.nodes.map(n => n.text)")
    assert texts == [n.text for n in sorted(subgraph.nodes, key=lambda n: n.id)]
    assert evaluate(browser, session, "document.querySelectorAll('b').length") == 0
    assert evaluate(browser, session, "document.querySelectorAll('script').length") == 3
    assert evaluate(browser, session, "document.getElementById('title').textContent") == subgraph.title
    assert evaluate(browser, session, "document.getElementById('model').textContent") == "model test/model-ü"


def test_screenshot_shows_a_graph(page):
    browser, session, _, _, folder = page
    shot = base64.b64decode(browser.send("Page.captureScreenshot", {"format": "png"}, session=session)["data"])
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    (folder / "atlas.png").write_bytes(shot)
    inked = evaluate(
        browser,
        session,
        "(() => { const c = document.querySelector('#graph canvas'), d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let i = 0; i < d.length; i += 4) if (d[i + 3] && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) n++;"
        " return n / (c.width * c.height); })()",
    )
    assert inked > 0.01  # nodes, edges and labels cover more than 1% of the canvas


def test_clicking_a_node_shows_its_neighbours(page):
    browser, session, subgraph, _, _ = page
    node = subgraph.nodes[0]  # text ' </script><b>"x"&\''
    x, y = evaluate(
        browser,
        session,
        f"(() => {{ const g = window.atlasGraph, n = g.graphData().nodes.find(n => n.id === {node.id});"
        " const p = g.graph2ScreenCoords(n.x, n.y), r = document.getElementById('graph').getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top]; })()",
    )
    for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
        browser.send(
            "Input.dispatchMouseEvent",
            {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1},
            session=session,
        )
    deadline = time.monotonic() + 30
    while evaluate(browser, session, "document.getElementById('info').hidden"):
        if time.monotonic() > deadline:
            pytest.fail("clicking the node did not open the token panel")
        time.sleep(0.1)
    # Moving the pointer away keeps the clicked token pinned.
    browser.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 2, "y": 855}, session=session)
    assert evaluate(browser, session, "document.getElementById('info-label').textContent") == display_text(node.text)
    fields = evaluate(browser, session, "[...document.querySelectorAll('#info-fields dd')].map(d => d.textContent)")
    assert str(node.id) in fields
    shown = evaluate(browser, session, "[...document.querySelectorAll('#info-out li')].map(li => li.textContent)")
    by_id = {n.id: n for n in subgraph.nodes}
    expected = sorted((e for e in subgraph.edges if e.source == node.id), key=lambda e: e.rank)
    assert len(shown) == len(expected) == 3
    for line, edge in zip(shown, expected):
        assert line.startswith(f"{edge.score:.3f}{edge.rank}. ")


def test_no_console_errors_and_no_requests_beyond_the_file(page):
    browser, session, _, url, folder = page
    errors = [
        e["params"]
        for e in browser.events
        if (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
        or e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == []
    requested = [
        e["params"]["request"]["url"] for e in browser.events if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested == [url]
