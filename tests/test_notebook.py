"""examples/article.ipynb, executed on a real Jupyter kernel against the real Neo4j, then read in headless Chromium.

The module loads the bundled MiniLM (analysed) under a fresh name, runs the notebook on it
(``ATLAS_MODEL``), and checks what its cells printed: the article's token table, the variant
group of "list", the communities, the hubs, the map, queen first for king - man + woman. The
executed notebook is converted to HTML by nbconvert (without the template's CDN scripts) and
opened in Chromium: every inline graph and the map draw inside their own iframes, nothing is
fetched and nothing logs an error. A screenshot of the prompt's graph goes to a path the test
prints.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from pathlib import Path

import pytest
from chromium import CHROMIUM, Chromium

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "article.ipynb"
ARTICLE_IDS = [16129, 3642, 2869, 2024, 2025, 2641, 28547]  # "HTML coders are not considered programmers" on MiniLM
GRAPH_CELLS = ("prompt-graph", "variants-graph", "atlas-graph", "near-graph")

# nbconvert's lab template without the scripts it loads from a CDN (require.js, MathJax): the page under test
# must come from one file. Mermaid is only imported when a diagram is on the page; the notebook has none.
OFFLINE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js -%}{%- endblock html_head_js -%}
{%- block html_head_js_mathjax -%}{%- endblock html_head_js_mathjax -%}
"""


def read_notebook():
    import nbformat

    return nbformat.read(NOTEBOOK, as_version=4)


def test_the_notebook_is_stored_without_outputs():
    notebook = read_notebook()
    code = [c for c in notebook.cells if c.cell_type == "code"]
    assert code and all(c.outputs == [] and c.execution_count is None for c in code)


def test_the_notebook_runs_on_the_model_it_is_given():
    first = next(c for c in read_notebook().cells if c.cell_type == "code")
    assert 'MODEL = os.environ.get("ATLAS_MODEL", "all-MiniLM-L6-v2")' in first.source
    assert "model=MODEL)" in first.source


@pytest.fixture(scope="module")
def executed(neo4j_settings, tmp_path_factory):
    """The notebook executed on a freshly loaded and analysed MiniLM: (notebook, seconds, folder, model name)."""
    from nbclient import NotebookClient

    from atlas import Atlas

    folder = tmp_path_factory.mktemp("notebook")
    name = f"test-notebook-minilm-{uuid.uuid4().hex[:8]}"
    with Atlas(settings=neo4j_settings) as face:
        try:
            loaded = face.load(name=name)
            assert loaded.report.tokens == 30522
            notebook = read_notebook()
            env = {
                **os.environ,
                "ATLAS_MODEL": name,
                "NEO4J_URI": neo4j_settings.uri,
                "NEO4J_USER": neo4j_settings.user,
                "NEO4J_PASSWORD": neo4j_settings.password,
                "NEO4J_DATABASE": neo4j_settings.database,
            }
            client = NotebookClient(
                notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
            )
            start = time.monotonic()
            client.execute(env=env)
            seconds = time.monotonic() - start
        finally:
            face.delete(name)
            for method in ("tfidf", "word2vec"):  # the corpus atlases of its first section
                face.store.delete_model(f"{name}-lee-{method}")
    print(f"\nexamples/article.ipynb executed in {seconds:.1f} s")
    return notebook, seconds, folder, name


def outputs(notebook, tag: str) -> list[dict]:
    (cell,) = [c for c in notebook.cells if tag in c.metadata.get("tags", [])]
    return cell.outputs


def shown(notebook, tag: str, mime: str = "text/plain") -> str:
    """What the cell tagged ``tag`` displayed as its result, as ``mime``."""
    (result,) = [o for o in outputs(notebook, tag) if o.output_type == "execute_result"]
    return result.data[mime]


def table_rows(text: str) -> list[list[str]]:
    """The rows of a printed table (after its title and header lines), split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()[2:]]


def test_every_cell_ran_without_an_error(executed):
    notebook = executed[0]
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs, f"a cell showed nothing: {cell.source[:60]}"
            assert all(o.output_type != "error" for o in cell.outputs), cell.source[:60]


def test_the_article_token_table(executed):
    text = shown(executed[0], "token-table")
    assert [int(row[1]) for row in table_rows(text)] == ARTICLE_IDS
    html = shown(executed[0], "token-table", "text/html")
    assert html.startswith('<table class="atlas-table">') and "<td>##rs</td>" in html


def test_the_variant_group_of_list(executed):
    notebook, _, _, _ = executed
    rows = table_rows(shown(notebook, "variants"))
    assert [(int(r[0]), r[1]) for r in rows] == [(2862, '"list"'), (9863, '"##list"')]
    assert shown(notebook, "variants-graph").startswith("view_variants key='list', k=10: ")


def test_before_llms_builds_both_corpus_atlases_and_compares_them(executed):
    notebook, _, _, name = executed
    printed = "".join(o.get("text", "") for o in outputs(notebook, "corpus-load"))
    assert (
        f"{name}-lee-tfidf: 1,906 words, " in printed and f"{name}-lee-word2vec: 1,906 words, 19,060 edges" in printed
    )
    assert shown(notebook, "tfidf-pca", "image/svg+xml").count("<text") == 11
    assert table_rows(shown(notebook, "word2vec-neighbours")) and table_rows(shown(notebook, "tfidf-neighbours"))
    assert f"{name}-lee-word2vec" in shown(notebook, "corpus-compare")


def test_king_minus_man_plus_woman_is_queen(executed):
    rows = table_rows(shown(executed[0], "near"))
    assert rows[0][3] == '"queen"'
    assert shown(executed[0], "near-graph").startswith("nearest tokens to king - man + woman")


def test_the_network_analysis(executed):
    notebook, _, _, name = executed
    communities = table_rows(shown(notebook, "communities"))
    assert len(communities) == 10 and int(communities[0][1]) >= int(communities[-1][1])  # the ten largest
    hubs = table_rows(shown(notebook, "hubs"))
    assert len(hubs) == 10 and hubs[0][2] == '"##？"'
    assert shown(notebook, "map").startswith(f"map of {name}: 30,522 tokens, ")
    assert shown(notebook, "map", "text/html").startswith('<iframe class="atlas-page"')


def graph_sizes(notebook) -> list[int]:
    """The number of tokens of each inline graph, read from the graphs' printed summaries."""
    sizes = []
    for tag in GRAPH_CELLS:
        summary = shown(notebook, tag).splitlines()[0]
        sizes.append(int(re.search(r": (\d+) tokens, \d+ edges$", summary).group(1)))
    return sizes


@pytest.mark.browser
def test_the_rendered_notebook_draws_every_graph_and_the_map_offline(executed):
    """nbconvert's HTML in Chromium: each iframe is a page of its own (sandboxed, so out of process; the test
    attaches to each as it starts), draws its graph or every point of the map, fetches nothing, logs no error."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    notebook, _, folder, _ = executed
    exporter = HTMLExporter(
        extra_loaders=[DictLoader({"offline.html.j2": OFFLINE_TEMPLATE})], template_file="offline.html.j2"
    )
    body, _ = exporter.from_notebook_node(notebook)
    page = folder / "article.html"
    page.write_text(body, encoding="utf-8")
    assert body.count('<iframe class="atlas-page"') == len(GRAPH_CELLS) + 1

    with Chromium(folder, window=(1280, 900)) as browser:
        tab = browser.new_page()
        tab.send("Target.setAutoAttach", {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": True})
        tab.navigate(page.as_uri())
        frames = attach_frames(browser, tab, len(GRAPH_CELLS) + 1)
        states = wait_until_drawn(browser, tab, frames)

        graphs = [s for s in states if s["kind"] == "graph"]
        maps = [s for s in states if s["kind"] == "map"]
        assert sorted(s["nodes"] for s in graphs) == sorted(graph_sizes(notebook))
        assert all(s["fitted"] == "1" for s in graphs)
        assert len(maps) == 1 and maps[0]["points"] == "30522"

        shot = screenshot_iframe(tab, 0, folder / "notebook-prompt-graph.png")
        assert shot.startswith(b"\x89PNG\r\n\x1a\n")
        print(f"\nscreenshot of the prompt's inline graph: {folder / 'notebook-prompt-graph.png'}")

        assert browser.page_errors() == []
        urls = browser.requested_urls()
        assert urls and all(u.startswith(("file:", "data:", "about:", "blob:")) for u in urls), urls


def attach_frames(browser: Chromium, tab, count: int, timeout: float = 120) -> list[str]:
    """The DevTools sessions of the page's ``count`` iframes, each with its domains on before its page runs."""
    sessions: list[str] = []
    deadline = time.monotonic() + timeout
    while len(sessions) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(sessions)} of {count} iframes attached")
        tab.evaluate("1")  # reads the events that arrived meanwhile
        for event in browser.events:
            params = event.get("params", {})
            if event.get("method") != "Target.attachedToTarget" or params["sessionId"] in sessions:
                continue
            if params["targetInfo"]["type"] != "iframe":
                continue
            session = params["sessionId"]
            sessions.append(session)
            for domain in ("Runtime", "Log", "Network", "Page"):
                browser.send(f"{domain}.enable", session=session)
            browser.send("Runtime.runIfWaitingForDebugger", session=session)
        time.sleep(0.2)
    return sessions


STATE = (
    "JSON.stringify(Object.assign({kind: window.atlasMap ? 'map' : window.atlasGraph ? 'graph' : '',"
    " nodes: window.atlasNodeCount}, document.body ? document.body.dataset : {}))"
)


def wait_until_drawn(browser: Chromium, tab, sessions: list[str], timeout: float = 180) -> list[dict]:
    """Each frame's state once every graph has fitted its first picture and the map has drawn every point.

    A frame out of view may not be given frames to draw, so the iframes are scrolled into view in turn.
    """
    deadline = time.monotonic() + timeout
    turn = 0
    while True:
        tab.evaluate(
            f"(() => {{ const f = document.querySelectorAll('iframe.atlas-page'); f[{turn} % f.length]"
            ".scrollIntoView({block: 'center'}); })()"
        )
        time.sleep(1.0)
        turn += 1
        states = []
        for session in sessions:
            reply = browser.send("Runtime.evaluate", {"expression": STATE, "returnByValue": True}, session=session)
            states.append(json.loads(reply["result"]["value"]))
        if all(s.get("fitted") == "1" if s["kind"] == "graph" else s.get("ready") == "1" for s in states):
            return states
        if time.monotonic() > deadline:
            raise TimeoutError(f"the inline pages did not all draw: {states}")


def screenshot_iframe(tab, index: int, path: Path) -> bytes:
    """A PNG of the ``index``-th inline page as it shows in the rendered notebook."""
    import base64

    box = tab.evaluate(
        f"(() => {{ const f = document.querySelectorAll('iframe.atlas-page')[{index}]; f.scrollIntoView({{block: 'center'}});"
        " const r = f.getBoundingClientRect(); return [r.left + scrollX, r.top + scrollY, r.width, r.height]; })()"
    )
    time.sleep(1.5)  # a few frames for the graph to draw after the scroll
    clip = {"x": box[0], "y": box[1], "width": box[2], "height": box[3], "scale": 1}
    # captureBeyondViewport off: the shot is of what the viewport composited, out-of-process iframes included
    shot = base64.b64decode(
        tab.send("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": False})["data"]
    )
    path.write_bytes(shot)
    return shot
