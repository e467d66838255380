"""Neo4j Browser in real headless Chromium: connect, apply the atlas stylesheet, draw a saved prompt, a
variant group and the community map, play the guide.

Browser is opened with ``?dbms=bolt://USER@HOST:PORT&db=DB&preselectAuthMethod=NATIVE``,
which fills the connect form but for the password; the test types the password
and clicks Connect, then types commands into the editor and clicks Run, as a user
would. The guide and stylesheet come from ``atlas.server.guide.serve`` on 127.0.0.1
(allowed by the server's ``browser.remote_content_hostname_whitelist``).
Screenshots go to the tests' tmp folder, with copies at /tmp/browser-shot.png (the
styled prompt graph), /tmp/browser-communities.png (the community map) and
/tmp/browser-guide.png (the guide's first slide).
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from chromium import CHROMIUM, Chromium
from sample_models import saved_minilm_slice
from test_guide import cypher_examples

from atlas.server import guide as browser

pytestmark = pytest.mark.browser

BROWSER_HTTP_PORT = 7474  # where the project's launcher and docker-compose serve Neo4j Browser
GRAPH_SHOT = Path("/tmp/browser-shot.png")  # copies of the latest screenshots, to look at
GUIDE_SHOT = Path("/tmp/browser-guide.png")
COMMUNITY_SHOT = Path("/tmp/browser-communities.png")
TOKEN_COLOUR = "#68bdf6"
PROMPT_COLOUR = "#f79767"
VARIANT_COLOUR = "#c990c0"
COMMUNITY_COLOUR = "#f16667"


@pytest.fixture(scope="module")
def model(neo4j_settings):
    """A 3,000-token slice of MiniLM with the article's prompt saved and an analysis; deleted afterwards."""
    with saved_minilm_slice(neo4j_settings, "test-browser", analyse=True) as name:
        yield name


@pytest.fixture(scope="module")
def served():
    server, urls = browser.serve("127.0.0.1", 0)
    with server:
        yield server, urls


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    """Where Chromium keeps its fresh profile and log, and the tests their screenshots."""
    return tmp_path_factory.mktemp("neo4j-browser")


@pytest.fixture(scope="module")
def browser_tab(neo4j_settings, served, shots):
    """Neo4j Browser in headless Chromium, connected with the tests' password."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    bolt = urlsplit(neo4j_settings.uri)
    home = f"http://{bolt.hostname}:{BROWSER_HTTP_PORT}/browser/"
    try:
        urllib.request.urlopen(home, timeout=10).close()
    except (urllib.error.URLError, OSError):
        pytest.skip(f"Neo4j Browser is not served at {home}")
    with Chromium(shots, window=(1600, 1200)) as chromium:
        tab = chromium.new_page()
        tab.navigate(
            f"{home}?dbms=bolt://{neo4j_settings.user}@{bolt.hostname}:{bolt.port}"
            f"&db={neo4j_settings.database}&preselectAuthMethod=NATIVE"
        )
        tab.wait_for("!!document.querySelector('[data-testid=password]')", "the connect form", timeout=90)
        tab.focus("[data-testid=password]")
        tab.insert_text(neo4j_settings.password)
        tab.click("[data-testid=connect]")
        tab.wait_for(
            "document.querySelector('[data-testid=stream]').innerText.includes('You are connected as user')",
            "Browser to connect",
            timeout=60,
        )
        yield tab


def run(tab, command: str) -> None:
    """Type ``command`` into Browser's editor and press its Run button."""
    tab.focus("#monaco-main-editor textarea")
    tab.insert_text(command)
    tab.click("[data-testid=editor-Run]")


def frame(command: str) -> str:
    """A JavaScript expression: the newest frame of the stream that ran ``command``, or undefined."""
    return (
        "[...document.querySelectorAll('[data-testid=frame]')].find(f =>"
        f" (f.querySelector('[data-testid=frameCommand]') || {{}}).textContent === {json.dumps(command)})"
    )


def apply_stylesheet(tab, server, url: str) -> str:
    """Run ``:style url`` and return what its frame shows.

    Right after connecting, Browser may not yet hold the server's remote-content
    allowlist and refuses the host; the command is then cleared and run again.
    """
    command = browser.style_line(url)
    shown_in_frame = (
        f"(() => {{ const f = {frame(command)}; if (!f) return null;"
        " const text = f.querySelector('[data-testid=frameContents]').innerText;"
        " return /node\\.Token|not allowed|Error/.test(text) ? text : null; })()"
    )
    for _ in range(10):
        fetched = len(server.requests)
        run(tab, command)
        text = tab.wait_for(shown_in_frame, "the :style frame")
        if "not allowed" not in text:
            assert ("GET", "/atlas.grass", 200) in server.requests[fetched:]
            return text
        run(tab, ":clear")
    pytest.fail(f"Browser kept refusing the stylesheet's host: {text}")


def settled_graph(tab, command: str) -> list[dict]:
    """The nodes drawn in the graph view of ``command``'s frame once the layout has stopped moving."""
    nodes = (
        f"(() => {{ const f = {frame(command)}; if (!f) return null;"
        " const drawn = [...f.querySelectorAll('svg g.node')]; if (!drawn.length) return null;"
        " return drawn.map(g => ({label: g.getAttribute('aria-label'), transform: g.getAttribute('transform'),"
        " fill: (g.querySelector('circle.b-outline') || {getAttribute: () => null}).getAttribute('fill'),"
        " caption: [...g.querySelectorAll('text.caption')].map(t => t.textContent).join(' ')})); })()"
    )
    previous = tab.wait_for(nodes, f"the graph of {command[:40]}...", timeout=60)
    while True:
        current = tab.wait_for(nodes, "the graph to stay drawn", timeout=60)
        if current == previous:
            return current
        previous = current
        time.sleep(0.3)


def shown(caption: str, text: str) -> bool:
    """Whether a drawn caption shows ``text``: Browser breaks long captions into lines of words
    and cuts what does not fit the circle with an ellipsis."""
    words = caption.split()
    return bool(words) and all(word.removesuffix("…") in text for word in words)


def test_styled_prompt_graph(browser_tab, served, shots, model, neo4j_driver, neo4j_settings):
    server, urls = served
    style = apply_stylesheet(browser_tab, server, urls.style)
    assert "Error" not in style
    assert "node.Token {" in style and 'caption: "{text}";' in style and 'caption: "{score}";' in style
    run(browser_tab, ":clear")
    param = f":param model => '{model}'"
    run(browser_tab, param)
    assert model in browser_tab.wait_for(
        f"(() => {{ const f = {frame(param)}; return f && f.innerText; }})()", ":param"
    )

    (guide_query,) = [
        c for c in cypher_examples() if c.startswith("MATCH (p:Prompt") and c.endswith("RETURN p, h, t, r, n")
    ]
    command = " ".join(line.strip() for line in guide_query.splitlines())
    records, _, _ = neo4j_driver.execute_query(guide_query, {"model": model}, database_=neo4j_settings.database)
    expected = {}  # legacy node id -> (label, caption text)
    for record in records:
        prompt = record["p"]
        expected[prompt.element_id.rsplit(":", 1)[1]] = ("Prompt", prompt["text"])
        for key in ("t", "n"):
            if record[key] is not None:
                expected[record[key].element_id.rsplit(":", 1)[1]] = ("Token", record[key]["text"])
    assert 16 <= len(expected) <= 1 + 15 + 15 * 3

    run(browser_tab, command)
    drawn = settled_graph(browser_tab, command)
    by_id = {n["label"].removeprefix("graph-node"): n for n in drawn}
    assert set(by_id) == set(expected)  # every returned node drawn, nothing else
    for node_id, (label, text) in expected.items():
        node = by_id[node_id]
        assert node["fill"].lower() == (PROMPT_COLOUR if label == "Prompt" else TOKEN_COLOUR), (text, node)
        assert shown(node["caption"], text), (text, node["caption"])

    scores = browser_tab.evaluate(
        f"[...{frame(command)}.querySelectorAll('svg g.relationship text')].map(t => t.textContent)"
    )
    assert any(s.startswith("0.") for s in scores)  # SIMILAR_TO captioned with its score
    status = browser_tab.evaluate(f"{frame(command)}.innerText.match(/Displaying .*/)[0]")
    assert status.startswith(f"Displaying {len(expected)} nodes, ")

    # The picture: the frame fullscreen, the properties panel folded, the graph fitted and zoomed in.
    browser_tab.click_in(frame(command), "button[title=Fullscreen]")
    browser_tab.click_in(frame(command), "button[aria-label='Collapse the node properties display']")
    browser_tab.click_in(frame(command), "button[aria-label=zoom-to-fit]")
    browser_tab.click_in(frame(command), "button[aria-label=zoom-in]")
    settled_graph(browser_tab, command)
    shot = browser_tab.screenshot(shots / "prompt-graph.png")
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    shutil.copyfile(shots / "prompt-graph.png", GRAPH_SHOT)
    browser_tab.click_in(frame(command), "button[title='Close fullscreen']")


def test_styled_variant_group(browser_tab, served, model):
    """The guide's variant-group graph: one Variant node captioned by its key, apart from the tokens."""
    server, urls = served
    if ("GET", "/atlas.grass", 200) not in server.requests:
        apply_stylesheet(browser_tab, server, urls.style)
    run(browser_tab, ":clear")
    run(browser_tab, f":param model => '{model}'")
    (guide_query,) = [
        c for c in cypher_examples() if c.startswith("MATCH (v:Variant") and c.endswith("RETURN v, o, t, r, n")
    ]
    command = " ".join(line.strip() for line in guide_query.splitlines())
    run(browser_tab, command)
    drawn = settled_graph(browser_tab, command)
    variants = [n for n in drawn if n["fill"].lower() == VARIANT_COLOUR]
    assert [n["caption"].strip() for n in variants] == ["list"]
    tokens = [n for n in drawn if n["fill"].lower() == TOKEN_COLOUR]
    assert {"list", "##list"} <= {n["caption"].strip() for n in tokens}
    assert len(tokens) == len(drawn) - 1


def test_styled_community_map(browser_tab, served, shots, model, neo4j_driver, neo4j_settings):
    """The guide's community map: the largest communities as Community circles captioned by their labels,
    linked by LINKED relationships captioned by their edge counts."""
    server, urls = served
    if ("GET", "/atlas.grass", 200) not in server.requests:
        apply_stylesheet(browser_tab, server, urls.style)
    run(browser_tab, ":clear")
    run(browser_tab, f":param model => '{model}'")
    (guide_query,) = [
        c for c in cypher_examples() if c.startswith("MATCH (c:Community") and c.endswith("RETURN communities, links")
    ]
    records, _, _ = neo4j_driver.execute_query(guide_query, {"model": model}, database_=neo4j_settings.database)
    expected = {c.element_id.rsplit(":", 1)[1]: c["label"] for c in records[0]["communities"]}
    assert 5 <= len(expected) <= 40 and records[0]["links"]

    command = " ".join(line.strip() for line in guide_query.splitlines())
    run(browser_tab, command)
    drawn = settled_graph(browser_tab, command)
    by_id = {n["label"].removeprefix("graph-node"): n for n in drawn}
    assert set(by_id) == set(expected)  # every community returned drawn, nothing else
    for node_id, label in expected.items():
        assert by_id[node_id]["fill"].lower() == COMMUNITY_COLOUR, (label, by_id[node_id])
        assert shown(by_id[node_id]["caption"], label), (label, by_id[node_id]["caption"])
    radii = browser_tab.evaluate(
        f"[...{frame(command)}.querySelectorAll('svg g.node circle.b-outline')].map(c => c.getAttribute('r'))"
    )
    assert set(radii) == {"47.5"}  # the stylesheet's 95px Community circle, larger than a token's
    captions = browser_tab.evaluate(
        f"[...{frame(command)}.querySelectorAll('svg g.relationship text')].map(t => t.textContent)"
    )
    assert captions and all(c.isdigit() for c in captions)  # LINKED captioned with its edge count

    browser_tab.click_in(frame(command), "button[title=Fullscreen]")
    browser_tab.click_in(frame(command), "button[aria-label='Collapse the node properties display']")
    settled_graph(browser_tab, command)
    browser_tab.click_in(frame(command), "button[aria-label=zoom-to-fit]")
    browser_tab.click_in(frame(command), "button[aria-label=zoom-in]")
    settled_graph(browser_tab, command)
    shot = browser_tab.screenshot(shots / "community-map.png")
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    shutil.copyfile(shots / "community-map.png", COMMUNITY_SHOT)
    browser_tab.click_in(frame(command), "button[title='Close fullscreen']")


def test_play_renders_the_first_slide(browser_tab, served, shots):
    server, urls = served
    command = browser.play_line(urls.guide)
    run(browser_tab, ":clear")
    run(browser_tab, command)
    slide = browser_tab.wait_for(
        f"(() => {{ const f = {frame(command)}; const h = f && f.querySelector('h3'); return h && h.textContent; }})()",
        "the guide's first slide",
    )
    assert slide == "Token atlas"
    blocks = browser_tab.evaluate(
        f"[...{frame(command)}.querySelectorAll('pre.runnable')].filter(p => p.offsetParent !== null)"
        ".map(p => p.textContent.trim())"
    )
    assert blocks[:2] == [":param model => 'all-MiniLM-L6-v2'", browser.style_line(urls.style)]
    assert ("OPTIONS", "/guide.html", 204) in server.requests and ("GET", "/guide.html", 200) in server.requests

    # Clicking a runnable block puts it into the editor.
    browser_tab.click_in(frame(command), "pre.runnable")
    editor = browser_tab.wait_for(
        "(() => { const t = document.querySelector('#monaco-main-editor .view-lines').innerText.replace(/\\u00a0/g, ' ');"
        " return t.includes(':param') ? t : null; })()",
        "the clicked example in the editor",
    )
    assert editor.strip() == ":param model => 'all-MiniLM-L6-v2'"
    browser_tab.screenshot(shots / "guide.png")
    shutil.copyfile(shots / "guide.png", GUIDE_SHOT)
