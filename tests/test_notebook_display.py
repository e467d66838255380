"""How results show in a notebook, without a database: tables as escaped HTML, graphs as their page in an iframe."""

from __future__ import annotations

import html
import re

from atlas.core.subgraph import Edge, Node, Subgraph
from atlas.core.token_text import display_text, escape_controls
from atlas.pages.export import render
from atlas.pages.notebook import MAX_ROWS, page_iframe
from atlas.results import Graph, Hubs, Neighbours

HOSTILE = ' </td><script>alert("x")</script>\x1b[2J\u202e'


def test_a_table_escapes_token_text_as_the_pages_show_it():
    rows = [{"id": 7, "text": HOSTILE, "score": 0.5, "rank": 1, "community": f"<i>{HOSTILE}</i>"}]
    shown = Neighbours("m", {"id": 1, "text": "<cat>"}, rows, analysed=True)._repr_html_()
    assert "<script>" not in shown and "<i>" not in shown
    assert f"<td>{html.escape(display_text(HOSTILE))}</td>" in shown  # a leading space as ␣, controls escaped
    assert f"<td>{html.escape(escape_controls(f'<i>{HOSTILE}</i>'))}</td>" in shown
    assert "\x1b" not in shown and "\u202e" not in shown
    assert "&quot;&lt;cat&gt;&quot;" in shown  # the title, as the terminal shows it


def test_a_long_table_is_cut_with_a_line_counting_the_hidden_rows():
    rows = [{"cited": 100 - i, "id": i, "text": f"t{i}", "label": None} for i in range(MAX_ROWS + 15)]
    shown = Hubs("m", 20, 1.5, rows)._repr_html_()
    assert shown.count("<tr>") == MAX_ROWS + 1  # the header and the rows shown
    assert "15 more rows hidden (of 75)" in shown
    assert "<td>-</td>" in shown  # no community label


def test_a_graph_is_its_html_export_in_a_sandboxed_iframe():
    nodes = [Node(id=1, text=HOSTILE, raw=HOSTILE, seed=True), Node(id=2, text="cat", raw="cat")]
    subgraph = Subgraph("m", f"prompt {HOSTILE!r}", nodes, [Edge(1, 2, 0.5, 1), Edge(2, 1, 0.5, 1)])
    shown = Graph(subgraph)._repr_html_()
    opening = shown.split(" srcdoc=")[0]
    assert opening.startswith('<iframe class="atlas-page"') and 'sandbox="allow-scripts"' in opening
    assert "<script" not in opening
    (srcdoc,) = re.findall(r'srcdoc="([^"]*)"', shown)
    assert html.unescape(srcdoc) == render(subgraph, "html")[""]


def test_a_page_too_big_to_inline_says_to_save_it():
    shown = page_iframe("<p>" + "x" * 2000, "map of m", limit=1000, file_name="map.html")
    assert "<iframe" not in shown and 'save it with .save("map.html")' in shown
