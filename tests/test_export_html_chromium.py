"""The HTML export in real headless Chromium (tests/chromium.py drives it over the DevTools protocol on a pipe).

Two pages: a small sample with hostile token texts and no map positions (the layout warms up, then fits),
and a prompt-sized graph (tests/prompt_graphs.py) with map positions (the layout starts from them and
fits at once). What the tests read, the page exposes: ``window.atlasFit`` (the fitted first picture),
``window.atlasLabels`` (the label boxes of the latest frame) and ``document.body.dataset``.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from pathlib import Path

import pytest
from chromium import CHROMIUM, Chromium
from prompt_graphs import prompt_sized_subgraph

from atlas.core.subgraph import Edge, Node, Subgraph
from atlas.core.token_text import display_text, escape_controls
from atlas.pages.export import write

pytestmark = pytest.mark.browser

EVIL = "\x1b[2J\x07\u202eevil"  # clear the screen, ring, reverse what follows
NASTY = ['</script><b>"x"&\'', "line\nbreak", "tab\there", "nul\x00esc\x1b", "\\", "🙂🚀", "'", "<!--", "\u2028", EVIL]
WORDS = ["river", "lake", "sea", "ocean", "stream", "pond", "brook", "bay", "delta", "creek"]
COMMUNITY_LABELS = ["river · lake", "sea · ocean", f"brook · {EVIL}"]
LABEL_PX = 12
WINDOW = (1280, 860)


def sample_subgraph(n: int = 60, k: int = 3, seed: int = 7) -> Subgraph:
    """~n tokens in three clusters with exact top-k cosine edges, nasty texts, groups and seeds; each cluster
    is a community (one with a hostile label) but for token 105, and no token has a map position."""
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
                community=None if i == 5 else i % 3,
                community_label=None if i == 5 else COMMUNITY_LABELS[i % 3],
                cited=i % 7,
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
    with Chromium(folder, window=WINDOW) as browser:
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
    assert tab.browser.page_errors() == []
    assert tab.browser.requested_urls() == [url]


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
        "['#title', '#model', '#info-label', '#info-fields dd', '#info-out li bdi', '#info-in li bdi', '#legend .name']"
        ".flatMap(s => [...document.querySelectorAll(s)]).map(e => getComputedStyle(e).unicodeBidi)"
    )
    assert len(isolated) >= 7 and set(isolated) == {"isolate"}
    labels = tab.evaluate("[...document.querySelectorAll('#info-out li bdi')].map(e => e.textContent)")
    by_id = {n.id: n for n in subgraph.nodes}
    expected = sorted((e for e in subgraph.edges if e.source == node.id), key=lambda e: e.rank)
    assert labels == [display_text(by_id[e.target].text) for e in expected]


def test_panel_shows_the_community_and_the_in_degree(page):
    tab, subgraph, _, _ = page
    node = next(n for n in subgraph.nodes if n.community_label and EVIL in n.community_label)
    click_node(tab, node.id)
    tab.move_to(2, 855)
    fields = tab.evaluate("[...document.querySelectorAll('#info-fields dt, #info-fields dd')].map(e => e.textContent)")
    shown = dict(zip(fields[::2], fields[1::2]))
    assert shown["community"] == f"{escape_controls(node.community_label)} (#{node.community})"
    assert shown["cited"].startswith(f"{node.cited} tokens")
    plain = next(n for n in subgraph.nodes if n.community is None)
    click_node(tab, plain.id)
    fields = tab.evaluate("[...document.querySelectorAll('#info-fields dt')].map(e => e.textContent)")
    assert "community" not in fields and "cited" in fields


def test_without_map_positions_it_fits_after_a_short_warm_up(page):
    tab, _, _, _ = page
    fit = tab.evaluate("window.atlasFit")
    assert fit["fromMap"] is False
    assert 0 < fit["ticks"] <= 30  # a short warm-up, not the engine's whole run
    assert fit["engineStopped"] is False
    assert tab.evaluate("document.body.dataset.fitted") == "1"


# --- a prompt-sized graph with map positions -------------------------------------------------------


@pytest.fixture(scope="module")
def prompt_page(tmp_path_factory):
    """The prompt-sized export opened in headless Chromium, once its first fitted picture is drawn:
    (tab, subgraph, folder)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    folder = tmp_path_factory.mktemp("html-prompt")
    subgraph = prompt_sized_subgraph()
    (path,) = write(subgraph, "html", str(folder / "prompt.html"))
    with Chromium(folder, window=WINDOW) as browser:
        tab = browser.new_page()
        tab.navigate(Path(path).resolve().as_uri())
        tab.wait_for(
            "document.body && document.body.dataset.fitted === '1'", "the first fitted picture", timeout=90, poll=0.05
        )
        yield tab, subgraph, folder


def canvas_size(tab) -> tuple[float, float]:
    return tuple(
        tab.evaluate(
            "(() => { const g = document.getElementById('graph'); return [g.clientWidth, g.clientHeight]; })()"
        )
    )


def test_prompt_page_fits_from_the_map_positions_at_once(prompt_page):
    tab, subgraph, _folder = prompt_page
    assert (len(subgraph.nodes), len(subgraph.edges)) == (592, 4144)
    fit = tab.evaluate("window.atlasFit")
    assert fit["fromMap"] is True and fit["ticks"] == 0  # no layout ran before the first picture
    assert fit["engineStopped"] is False  # and it did not wait for the layout to settle
    # The fitted picture is the map itself: each position is the map's, centred, scaled alike and with y up.
    xs = [n.x for n in subgraph.nodes]
    ys = [n.y for n in subgraph.nodes]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    scale = fit["mapScale"]
    assert scale > 0
    drawn = {node_id: (x, y) for node_id, x, y in fit["positions"]}
    assert set(drawn) == {n.id for n in subgraph.nodes}
    for n in subgraph.nodes:
        assert drawn[n.id] == pytest.approx((scale * (n.x - cx), -scale * (n.y - cy)), abs=1e-6)
    # ... fitted to the window: every node on screen, and the graph as wide or as tall as the window allows.
    width, height = canvas_size(tab)
    t = fit["transform"]
    screen = [(x * t["k"] + t["x"], y * t["k"] + t["y"]) for x, y in drawn.values()]
    assert all(0 <= x <= width and 0 <= y <= height for x, y in screen)
    span_x = max(x for x, _ in screen) - min(x for x, _ in screen)
    span_y = max(y for _, y in screen) - min(y for _, y in screen)
    assert span_x >= 0.8 * (width - 80) or span_y >= 0.8 * (height - 80)


def intersect(a: list[float], b: list[float]) -> bool:
    """Whether two boxes [left, top, right, bottom] share more than an edge."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def overlaps(boxes: list[list[float]]) -> list[tuple[int, int]]:
    return [(i, j) for i, a in enumerate(boxes) for j, b in enumerate(boxes[:i]) if intersect(a, b)]


def shown_seeds(
    subgraph: Subgraph, at: dict[int, tuple[float, float]], size: tuple[float, float], blocked: list
) -> set[int]:
    """The seeds whose screen position ``at`` is on the canvas and not under a panel (the legend, the token panel)."""
    width, height = size
    return {
        n.id
        for n in subgraph.nodes
        if n.seed
        and 0 <= at[n.id][0] <= width
        and 0 <= at[n.id][1] <= height
        and not any(b[0] <= at[n.id][0] <= b[2] and b[1] <= at[n.id][1] <= b[3] for b in blocked)
    }


def check_labels(labels: list[dict], subgraph: Subgraph, seeds: set[int], unlabelled: dict | None = None) -> None:
    """Labels at 12 px in screen pixels, none overlapping another, every seed in ``seeds`` labelled; with the
    page's ``unlabelled`` (what it tried for the rest), every token whose label fits somewhere is labelled."""
    assert labels
    assert all(label["px"] == LABEL_PX and f"{LABEL_PX}px" in label["font"] for label in labels)
    assert all(b["box"][3] - b["box"][1] == pytest.approx(15) for b in labels)  # a 12 px line, the same at any zoom
    assert overlaps([label["box"] for label in labels]) == []
    by_id = {n.id: n for n in subgraph.nodes}
    assert [label["text"] for label in labels] == [display_text(by_id[label["id"]].text) for label in labels]
    assert seeds and seeds <= {label["id"] for label in labels}
    assert [label for label in labels if label["forced"]] == []
    if unlabelled is not None:
        taken = [label["box"] for label in labels] + unlabelled["blocked"]
        for token in unlabelled["skipped"]:
            assert not by_id[token["id"]].seed
            for spot in token["spots"]:  # below, above, right and left of it, where on screen: each one taken
                assert any(intersect(spot, box) for box in taken), token


def test_prompt_page_labels_are_12px_on_screen_and_never_overlap(prompt_page):
    tab, subgraph, folder = prompt_page
    fit = tab.evaluate("window.atlasFit")
    labels = fit["labels"]  # as drawn in the first fitted picture
    t = fit["transform"]
    at = {node_id: (x * t["k"] + t["x"], y * t["k"] + t["y"]) for node_id, x, y in fit["positions"]}
    seeds = shown_seeds(subgraph, at, canvas_size(tab), fit["unlabelled"]["blocked"])
    assert len(seeds) >= sum(n.seed for n in subgraph.nodes) - 2  # a seed or two may be under the legend
    check_labels(labels, subgraph, seeds, fit["unlabelled"])
    assert len(labels) > 3 * sum(n.seed for n in subgraph.nodes)  # far more than the seeds: every label that fits
    assert tab.evaluate("document.body.dataset.labels")  # the latest frame's count, for benchmarks
    # Each label sits at its token: its box touches the token's circle, on screen.
    for label in labels:
        x, y = at[label["id"]]
        left, top, right, bottom = label["box"]
        gap = math.hypot(max(left - x, 0, x - right), max(top - y, 0, y - bottom))
        assert gap <= 30, label
    tab.screenshot(folder / "prompt-fitted.png")


LABELLED = """new Promise(done => requestAnimationFrame(() => requestAnimationFrame(() => {
  const g = window.atlasGraph, el = document.getElementById('graph'), w = el.clientWidth, h = el.clientHeight;
  const visible = g.graphData().nodes.filter(n => {
    const p = g.graph2ScreenCoords(n.x, n.y);
    return p.x >= 0 && p.x <= w && p.y >= 0 && p.y <= h;
  });
  done({labels: window.atlasLabels, unlabelled: window.atlasUnlabelled, visible: visible.length, k: g.zoom(),
        at: g.graphData().nodes.map(n => { const p = g.graph2ScreenCoords(n.x, n.y); return [n.id, p.x, p.y]; })});
})))"""


def test_prompt_page_shows_more_labels_as_one_zooms_in(prompt_page):
    tab, subgraph, _ = prompt_page
    before = tab.evaluate(LABELLED, await_promise=True)
    # A wheel turn over the middle of the graph, as the mouse gives it (CDP's own wheel events do not
    # reach a headless page here, so the event is dispatched on the canvas).
    tab.evaluate(
        "(() => { const c = document.querySelector('#graph canvas'), r = c.getBoundingClientRect();"
        " c.dispatchEvent(new WheelEvent('wheel', {deltaY: -700, clientX: r.left + r.width / 2,"
        " clientY: r.top + r.height / 2, bubbles: true, cancelable: true, view: window})); })()"
    )
    tab.wait_for(f"window.atlasGraph.zoom() > 2 * {before['k']}", "the wheel to zoom in", timeout=30, poll=0.1)
    after = tab.evaluate(LABELLED, await_promise=True)
    at = {node_id: (x, y) for node_id, x, y in after["at"]}
    seeds = shown_seeds(subgraph, at, canvas_size(tab), after["unlabelled"]["blocked"])
    check_labels(after["labels"], subgraph, seeds, after["unlabelled"])  # still 12 px on screen, still apart
    # Zoomed in, the tokens on screen have more room: a larger share of them is labelled.
    assert len(after["labels"]) / after["visible"] > len(before["labels"]) / before["visible"]


def test_prompt_page_colours_by_community(prompt_page):
    tab, subgraph, _ = prompt_page
    assert tab.evaluate("document.querySelector('#colour-by input:checked').value") == "community"
    assert tab.evaluate("document.getElementById('legend').hidden") is False
    colours = tab.evaluate("atlasGraph.graphData().nodes.map(n => [n.id, n.community, atlasGraph.nodeColor()(n)])")
    by_community: dict[int, set[str]] = {}
    for _, community, colour in colours:
        by_community.setdefault(community, set()).add(colour)
    assert set(by_community) == {n.community for n in subgraph.nodes}
    assert all(len(c) == 1 for c in by_community.values())  # one community, one colour
    assert len({next(iter(c)) for c in by_community.values()}) == len(by_community)  # and one apiece
    # A community's colour depends on its id only: the same as in another page with other communities.
    for community, colour in by_community.items():
        assert tab.evaluate(f"atlasCommunityColour({community})") == next(iter(colour))
    legend = tab.evaluate(
        "[...document.querySelectorAll('#legend-list li')].map(li => [+li.dataset.community,"
        " li.querySelector('.name').textContent, li.querySelector('.swatch').style.background])"
    )
    sizes = Counter(n.community for n in subgraph.nodes)
    assert [c for c, _, _ in legend] == sorted(sizes, key=lambda c: (-sizes[c], c))[:12]  # the most tokens first
    labels = {n.community: n.community_label for n in subgraph.nodes}
    assert [name for _, name, _ in legend] == [labels[c] for c, _, _ in legend]
    # Other colourings stay one click away; the legend belongs to the community colouring.
    tab.click("#colour-by input[value=component]")
    tab.wait_for("document.getElementById('legend').hidden", "the legend to hide")
    tab.click("#colour-by input[value=community]")
    tab.wait_for("!document.getElementById('legend').hidden", "the legend to show again")


def test_community_colours_agree_across_pages(page, prompt_page):
    small, subgraph, _, _ = page
    big, _, _ = prompt_page
    assert small.evaluate("document.querySelector('#colour-by input:checked').value") == "community"
    shared = sorted({n.community for n in subgraph.nodes if n.community is not None})
    assert shared == [0, 1, 2]
    script = "[" + ", ".join(f"atlasCommunityColour({c})" for c in shared) + "]"
    assert small.evaluate(script) == big.evaluate(script)
    nodes = small.evaluate("atlasGraph.graphData().nodes.map(n => [n.community, atlasGraph.nodeColor()(n)])")
    assert all(colour.startswith("#b8b8b8") for community, colour in nodes if community is None)  # none: grey
