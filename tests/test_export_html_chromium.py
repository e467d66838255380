"""The HTML export in real headless Chromium (tests/chromium.py drives it over the DevTools protocol on a pipe)."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from atlas.display import display_text, escape_controls
from atlas.export import write
from atlas.subgraph import Edge, Node, Subgraph
from chromium import CHROMIUM, Chromium

pytestmark = pytest.mark.browser

EVIL = "\x1b[2J\x07\u202eevil"  # clear the screen, ring, reverse what follows
NASTY = ["</script><b>\"x\"&'", "line\nbreak", "tab\there", "nul\x00esc\x1b", "\\", "🙂🚀", "'", "<!--", "\u2028", EVIL]
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
                variant=WORDS[i % len(WORDS)] if i >= len(NASTY) else (EVIL if word == EVIL else None),
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
    return Subgraph("test/model-ü", f'river words </script><b>"t"& {EVIL}', nodes, edges)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """The sample export opened in headless Chromium and settled: (tab, subgraph, file url, folder)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    folder = tmp_path_factory.mktemp("html")
    subgraph = sample_subgraph()
    (path,) = write(subgraph, "html", str(folder / "atlas.html"))
    url = Path(path).resolve().as_uri()
    with Chromium(folder, window=(1280, 860)) as browser:
        tab = browser.new_page()
        tab.navigate(url)
        tab.wait_for("window.atlasReady === true", "the page to set window.atlasReady", timeout=90)
        yield tab, subgraph, url, folder


def test_draws_every_node_and_edge(page):
    tab, subgraph, _, _ = page
    assert tab.evaluate("window.atlasNodeCount") == len(subgraph.nodes) == 60
    assert tab.evaluate("window.atlasEdgeCount") == len(subgraph.edges) == 180


def test_token_text_arrives_intact_and_inert(page):
    tab, subgraph, _, _ = page
    data = "JSON.parse(document.getElementById('graph-data').textContent)"
    texts = tab.evaluate(f"{data}.nodes.map(n => n.text)")
    assert texts == [n.text for n in sorted(subgraph.nodes, key=lambda n: n.id)]
    assert tab.evaluate("document.querySelectorAll('b').length") == 0
    assert tab.evaluate("document.querySelectorAll('script').length") == 3
    assert tab.evaluate("document.getElementById('title').textContent") == escape_controls(subgraph.title)
    assert tab.evaluate("document.getElementById('model').textContent") == "model test/model-ü"


def test_screenshot_shows_a_graph(page):
    tab, _, _, folder = page
    shot = tab.screenshot(folder / "atlas.png")
    assert shot.startswith(b"\x89PNG\r\n\x1a\n")
    inked = tab.evaluate(
        "(() => { const c = document.querySelector('#graph canvas'), d = c.getContext('2d')"
        ".getImageData(0, 0, c.width, c.height).data; let n = 0;"
        " for (let i = 0; i < d.length; i += 4) if (d[i + 3] && (d[i] < 200 || d[i + 1] < 200 || d[i + 2] < 200)) n++;"
        " return n / (c.width * c.height); })()",
    )
    assert inked > 0.01  # nodes, edges and labels cover more than 1% of the canvas


def click_node(tab, node_id: int) -> None:
    """Click the token ``node_id`` on the canvas and wait for the panel to show it."""
    x, y = tab.evaluate(
        f"(() => {{ const g = window.atlasGraph, n = g.graphData().nodes.find(n => n.id === {node_id});"
        " const p = g.graph2ScreenCoords(n.x, n.y), r = document.getElementById('graph').getBoundingClientRect();"
        " return [p.x + r.left, p.y + r.top]; })()",
    )
    tab.click_at(x, y)
    tab.wait_for(
        f"!document.getElementById('info').hidden && document.getElementById('info-fields').textContent.includes('{node_id}')",
        f"the token panel to show token {node_id} on the click",
        timeout=30,
        poll=0.1,
    )


def test_clicking_a_node_shows_its_neighbours(page):
    tab, subgraph, _, _ = page
    node = subgraph.nodes[0]  # text ' </script><b>"x"&\''
    click_node(tab, node.id)
    # Moving the pointer away keeps the clicked token pinned.
    tab.move_to(2, 855)
    assert tab.evaluate("document.getElementById('info-label').textContent") == display_text(node.text)
    fields = tab.evaluate("[...document.querySelectorAll('#info-fields dd')].map(d => d.textContent)")
    assert str(node.id) in fields
    shown = tab.evaluate("[...document.querySelectorAll('#info-out li')].map(li => li.textContent)")
    expected = sorted((e for e in subgraph.edges if e.source == node.id), key=lambda e: e.rank)
    assert len(shown) == len(expected) == 3
    for line, edge in zip(shown, expected):
        assert line.startswith(f"{edge.score:.3f}{edge.rank}. ")


def test_no_console_errors_and_no_requests_beyond_the_file(page):
    tab, _, url, _ = page
    errors = [
        e["params"]
        for e in tab.browser.events
        if (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
        or e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == []
    requested = [
        e["params"]["request"]["url"] for e in tab.browser.events if e.get("method") == "Network.requestWillBeSent"
    ]
    assert requested == [url]


def test_title_and_panel_show_token_text_escaped_and_isolated(page):
    tab, subgraph, _, _ = page
    node = next(n for n in subgraph.nodes if n.text == EVIL)
    click_node(tab, node.id)
    tab.move_to(2, 855)
    title = escape_controls(subgraph.title)
    assert tab.evaluate("document.title") == f"{title} · test/model-ü · token atlas"
    assert tab.evaluate("document.getElementById('title').textContent") == title
    assert tab.evaluate("document.getElementById('info-label').textContent") == display_text(EVIL)
    fields = tab.evaluate("[...document.querySelectorAll('#info-fields dt, #info-fields dd')].map(e => e.textContent)")
    assert dict(zip(fields[::2], fields[1::2]))["variant"] == "\\x1b[2J\\x07\\u202eevil"
    shown = tab.evaluate("document.title + document.body.innerText")
    assert not any(c in shown for c in ("\x1b", "\x07", "\u202e")), shown
    isolated = tab.evaluate(
        "['#title', '#model', '#info-label', '#info-fields dd', '#info-out li bdi', '#info-in li bdi']"
        ".flatMap(s => [...document.querySelectorAll(s)]).map(e => getComputedStyle(e).unicodeBidi)"
    )
    assert len(isolated) >= 7 and set(isolated) == {"isolate"}
    labels = tab.evaluate("[...document.querySelectorAll('#info-out li bdi')].map(e => e.textContent)")
    by_id = {n.id: n for n in subgraph.nodes}
    expected = sorted((e for e in subgraph.edges if e.source == node.id), key=lambda e: e.rank)
    assert labels == [display_text(by_id[e.target].text) for e in expected]
