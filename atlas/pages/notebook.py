"""Results in a notebook: tables as HTML, graphs and the vocabulary map as their offline pages in an iframe.

Jupyter shows what ``_repr_html_`` returns (:mod:`atlas.results` calls these functions). A table
is a plain ``<table>``; every cell is HTML-escaped here, after the caller has made token text
visible the way the pages show it (:func:`atlas.core.token_text.display_text`). A graph or map
is the very page ``save()`` writes, put into the ``srcdoc`` attribute of a sandboxed iframe:

- nothing is fetched: the page carries its data and its library (force-graph, regl-scatterplot);
- each iframe is a document of its own, so several graphs in one notebook keep their own
  scripts, globals and ``document.body.dataset``;
- ``sandbox="allow-scripts"`` (without ``allow-same-origin``) gives the page an opaque origin:
  its scripts run, but cannot reach the notebook's page, its cookies or its server.

A page is only inlined up to :data:`INLINE_LIMIT` bytes: the notebook file holds it, and the
browser parses it again for every output, so a bigger page is replaced by a line saying how
big it is and to ``save()`` it instead.
"""

from __future__ import annotations

import html

MAX_ROWS = 60  # table rows shown inline; the rest are counted on a line below the table
INLINE_LIMIT = 8 * 2**20  # bytes of page shown inline; a bigger page is only described
GRAPH_HEIGHT = 560  # CSS pixels of an inline graph
MAP_HEIGHT = 680  # CSS pixels of an inline map


def table_html(title: str, headers: list[str], rows: list[list[str]], max_rows: int = MAX_ROWS) -> str:
    """A table as HTML: the title as its caption, the first ``max_rows`` rows, then how many are hidden.

    Every string is escaped here; give token text already made visible (``display_text``).

    >>> print(table_html("2 tokens", ["id", "token"], [["1", "<b>"], ["2", "␣cat"]], max_rows=1))
    <table class="atlas-table">
    <caption style="text-align: left">2 tokens</caption>
    <thead><tr><th>id</th><th>token</th></tr></thead>
    <tbody>
    <tr><td>1</td><td>&lt;b&gt;</td></tr>
    </tbody>
    </table>
    <p class="atlas-hidden">1 more row hidden (of 2); to_pandas() or to_dict() has them all.</p>
    """
    shown, hidden = rows[:max_rows], len(rows) - max_rows

    def cells(tag: str, row: list[str]) -> str:
        return "<tr>" + "".join(f"<{tag}>{html.escape(str(c))}</{tag}>" for c in row) + "</tr>"

    lines = [
        '<table class="atlas-table">',
        f'<caption style="text-align: left">{html.escape(title)}</caption>',
        f"<thead>{cells('th', headers)}</thead>",
        "<tbody>",
        *(cells("td", row) for row in shown),
        "</tbody>",
        "</table>",
    ]
    if hidden > 0:
        rows_word = "row" if hidden == 1 else "rows"
        lines.append(
            f'<p class="atlas-hidden">{hidden:,} more {rows_word} hidden (of {len(rows):,}); '
            "to_pandas() or to_dict() has them all.</p>"
        )
    return "\n".join(lines)


def page_iframe(
    page: str, title: str, height: int = GRAPH_HEIGHT, limit: int = INLINE_LIMIT, file_name: str = "atlas.html"
) -> str:
    """The offline page ``page`` in a sandboxed iframe's ``srcdoc``; above ``limit`` bytes, a line to save it instead.

    >>> frame = page_iframe('<p title="a&b">x</p>', "a graph")
    >>> 'srcdoc="&lt;p title=&quot;a&amp;b&quot;&gt;x&lt;/p&gt;"' in frame, 'sandbox="allow-scripts"' in frame
    (True, True)
    >>> print(page_iframe("x" * 3_000_000, "the map", 1, 2**20, "map.html"))  # doctest: +NORMALIZE_WHITESPACE
    <p class="atlas-too-big">the map: the page is 3.0 MB, more than the 1.0 MB shown inline;
    save it with .save("map.html") and open the file in a browser.</p>
    """
    size = len(page.encode("utf-8"))
    if size > limit:
        return (
            f'<p class="atlas-too-big">{html.escape(title)}: the page is {size / 1e6:.1f} MB, more than the '
            f'{limit / 2**20:.1f} MB shown inline; save it with .save("{html.escape(file_name)}") and open the file '
            "in a browser.</p>"
        )
    return (
        f'<iframe class="atlas-page" title="{html.escape(title)}" sandbox="allow-scripts" '
        f'style="width: 100%; height: {int(height)}px; border: 1px solid #ddd" '
        f'srcdoc="{html.escape(page, quote=True)}"></iframe>'
    )
