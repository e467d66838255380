"""The vocabulary map page in real headless Chromium (WebGL through SwiftShader; tests/chromium.py drives it)."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import numpy as np
import pytest
from chromium import CHROMIUM, Chromium
from vocab_maps import BROWSER_QUERY, synthetic_map

from atlas.core.token_text import display_text
from atlas.pages.map_page import render

pytestmark = pytest.mark.browser

N, K, COMMUNITIES = 24_000, 10, 300
SCORE_TOLERANCE = 0.00005 + 1 / 65534 + 1e-6  # 4 decimals shown of a score kept to 1/65534


@pytest.fixture(scope="module")
def opened(tmp_path_factory):
    """The map of a synthetic vocabulary, opened and drawn: (tab, map, file url, folder)."""
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    folder = tmp_path_factory.mktemp("map")
    vmap = replace(synthetic_map(N, K, COMMUNITIES, seed=3), untrained=np.arange(N) % 97 == 5)
    path = folder / "map.html"
    path.write_bytes(render(vmap, "html"))
    with Chromium(folder, window=(1400, 900)) as browser:
        tab = browser.new_page()
        tab.navigate(path.resolve().as_uri())
        tab.wait_for("document.body && document.body.dataset.ready === '1'", "the map to draw every point", timeout=90)
        tab.wait_for("document.body.dataset.neighbours === '1'", "the neighbours to unpack", timeout=60)
        yield tab, vmap, path.resolve().as_uri(), folder


@pytest.fixture
def page(opened):
    """The opened map with nothing selected, nothing hidden and the whole map in view."""
    tab = opened[0]
    yield opened
    tab.evaluate(
        "(() => { const box = document.getElementById('hide-kinds');"
        " const flagged = document.getElementById('show-untrained'); if (flagged.checked) flagged.click();"
        " if (box.checked) box.click(); atlasMap.scatter.deselect(); atlasMap.scatter.zoomToOrigin(); })()"
    )
    tab.wait_for(
        "document.body.dataset.selected === '' && document.body.dataset.visible === String(atlasMap.ids.length)",
        "reset",
    )


def dataset(tab) -> dict:
    return tab.evaluate("Object.assign({}, document.body.dataset)")


def fly_to(tab, row: int, distance: float = 0.02) -> tuple[float, float]:
    """Centre the camera on a row, close in; returns the row's position in the viewport (CSS pixels).

    The jump is repeated until it holds: a flight still under way from an earlier step would carry the camera on.
    """
    tab.wait_for(
        f"(() => {{ const [x, y] = atlasMap.screen({row}), s = document.getElementById('stage');"
        " if (Math.abs(x - s.clientWidth / 2) < 1 && Math.abs(y - s.clientHeight / 2) < 1) return true;"
        f" atlasMap.scatter.zoomToLocation([atlasMap.X[{row}], atlasMap.Y[{row}]], {distance}, {{ transition: false }});"
        " return false; })()",
        "the camera to arrive",
        poll=0.3,
    )
    time.sleep(0.3)  # a frame for the spatial view to settle
    return tuple(
        tab.evaluate(
            f"(() => {{ const [x, y] = atlasMap.screen({row}), r = document.getElementById('stage').getBoundingClientRect();"
            " return [x + r.left, y + r.top]; })()"
        )
    )


def test_every_point_is_drawn(page):
    tab, _vmap, _, _ = page
    state = dataset(tab)
    assert state["ready"] == "1"
    assert state["points"] == state["visible"] == str(N)
    inked = tab.evaluate(
        "(() => { const c = document.getElementById('points'), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i + 3] && Math.abs(d[i] - d[i + 2]) > 30) n++;"
        " return n / (c.width * c.height); })()"
    )
    assert inked > 0.03  # coloured points cover more than 3% of the map


def test_no_console_errors_and_no_requests_beyond_the_file(opened):
    tab, _, url, _ = opened
    assert tab.browser.page_errors() == []
    assert tab.browser.requested_urls() == [url]


def test_token_text_arrives_intact_and_inert(page):
    tab, vmap, _, _ = page
    assert tab.evaluate("JSON.parse(document.getElementById('map-texts').textContent)") == vmap.text
    assert tab.evaluate("document.querySelectorAll('b').length") == 0
    assert tab.evaluate("document.querySelectorAll('script').length") == 6
    assert tab.evaluate("document.getElementById('title').textContent") == vmap.title


def test_the_largest_communities_are_labelled(page):
    tab, vmap, _, folder = page
    shown = [int(c) for c in dataset(tab)["labels"].split()]
    largest = [c.id for c in sorted(vmap.communities, key=lambda c: -c.size)[:5]]
    assert largest[0] in shown
    assert len(set(largest) & set(shown)) >= 4
    assert len(shown) >= 20
    legend = tab.evaluate(
        "[...document.querySelectorAll('#legend li')].map(li => [+li.dataset.community, li.querySelector('.label').textContent])"
    )
    assert legend[:5] == [[c, next(x.label for x in vmap.communities if x.id == c)] for c in largest]
    tab.screenshot(folder / "map.png")


def test_a_legend_entry_flies_to_its_community(page):
    tab, vmap, _, _ = page
    largest = max(vmap.communities, key=lambda c: c.size)
    tab.click("#legend li:first-child")
    tab.wait_for("atlasMap.scatter.get('cameraDistance') < 0.9", "the camera to close in")
    rows = np.flatnonzero(vmap.community == largest.id)[:200].tolist()
    tab.wait_for(  # every member in view once the flight ends
        f"(() => {{ const s = document.getElementById('stage'); return {rows}.every(row => {{"
        " const [x, y] = atlasMap.screen(row); return x >= 0 && y >= 0 && x <= s.clientWidth && y <= s.clientHeight; }); })()",
        "the community to fill the view",
    )


def test_search_offers_exact_matches_first_and_highlights_the_variant_group(page):
    tab, vmap, _, folder = page
    groups = {}
    for row, group in enumerate(vmap.variant.tolist()):
        if group >= 0:
            groups.setdefault(group, []).append(row)
    # a group holding a lower-case word, its spelling with a leading space and at least one more
    rows = next(
        g
        for g in groups.values()
        if len(g) >= 3
        and any(vmap.text[r].islower() and " " not in vmap.text[r] for r in g)
        and any(vmap.text[r] == " " + vmap.text[g[0]].strip().lower() for r in g)
    )
    word = next(vmap.text[r] for r in rows if vmap.text[r].islower() and " " not in vmap.text[r])

    for query in (word, " " + word):
        tab.evaluate("(() => { const s = document.getElementById('search'); s.value = ''; s.focus(); })()")
        tab.insert_text(query)
        tab.wait_for("!document.getElementById('search-options').hidden", "completions to open")
        options = tab.evaluate(
            "[...document.querySelectorAll('#search-options li')].map(li => [+li.dataset.row, li.querySelector('bdi').textContent])"
        )
        assert options[0] == [vmap.text.index(query), display_text(query)]  # the exact text first, spaces as ␣
        assert {row for row, _ in options[: len(rows)]} == set(rows)  # then the other spellings of the word

    tab.press("Enter", "Enter", 13)
    chosen = vmap.text.index(" " + word)
    tab.wait_for(f"document.body.dataset.selected === '{vmap.ids[chosen]}'", "the chosen token to be selected")
    assert dataset(tab)["highlighted"] == str(len(rows))
    assert sorted(tab.evaluate("atlasMap.scatter.get('selectedPoints')")) == sorted(rows)
    tab.wait_for("document.body.dataset.tokenLabels > 0", "token labels once zoomed in")
    tab.screenshot(folder / "search.png")


def test_clicking_a_point_lists_its_neighbours_with_their_scores(page):
    tab, vmap, _, folder = page
    full = np.flatnonzero((vmap.neighbours >= 0).all(axis=1) & (vmap.kind == 0))
    row = int(full[len(full) // 3])
    x, y = fly_to(tab, row)
    tab.click_at(x, y)
    tab.wait_for(
        f"document.body.dataset.selected === '{vmap.ids[row]}'", "the clicked token to be selected", timeout=30
    )
    tab.wait_for("!document.getElementById('panel').hidden", "the token panel")
    assert tab.evaluate("document.getElementById('panel-text').textContent") == display_text(vmap.text[row])
    shown = tab.evaluate(
        "[...document.querySelectorAll('#panel-neighbours li')].map(li =>"
        " [+li.dataset.row, li.querySelector('.rank').textContent, li.querySelector('bdi').textContent, li.querySelector('.score').textContent])"
    )
    assert len(shown) == K
    for j, (m, rank, text, score) in enumerate(shown):
        assert m == vmap.neighbours[row, j]
        assert rank == str(j + 1)
        assert text == display_text(vmap.text[m])
        assert abs(float(score) - float(vmap.scores[row, j])) <= SCORE_TOLERANCE
        assert len(score.split(".")[1]) == 4
    assert tab.evaluate("document.getElementById('panel-query').textContent") == BROWSER_QUERY.replace(
        "__TOKEN_ID__", str(vmap.ids[row])
    )
    tab.click("#copy")
    tab.wait_for("document.getElementById('copy').textContent !== 'Copy query'", "the copy button to answer")
    tab.screenshot(folder / "selected.png")

    tab.click("#panel-neighbours li:nth-child(2)")
    second = int(vmap.neighbours[row, 1])
    tab.wait_for(f"document.body.dataset.selected === '{vmap.ids[second]}'", "the neighbour to be selected")


def test_hovering_a_point_shows_its_text_id_and_community(page):
    tab, vmap, _, _ = page
    row = int(np.flatnonzero(vmap.community >= 0)[100])
    x, y = fly_to(tab, row)
    tab.move_to(x + 3, y + 3)
    tab.move_to(x, y)
    tab.wait_for(f"document.body.dataset.hovered === '{vmap.ids[row]}'", "the hover to reach the point")
    tip = tab.evaluate("[...document.getElementById('tooltip').children].map(e => e.textContent)")
    label = next(c.label for c in vmap.communities if c.id == vmap.community[row])
    assert tip[0] == display_text(vmap.text[row])
    assert tip[1].startswith(f"id {vmap.ids[row]} · cited by {vmap.cited[row]}")
    assert tip[2] == label


def test_hostile_text_is_shown_escaped_and_isolated(page):
    tab, vmap, _, _ = page
    for text in ("\u202egnp.exe", "</script><b>x</b>", "nul\x00esc\x1b[2J", "line\u2028sep", ""):
        row = vmap.text.index(text)
        tab.evaluate(f"atlasMap.select({row}, false)")
        tab.wait_for(
            f"document.getElementById('panel-text').textContent === {json.dumps(display_text(text))}", "the panel"
        )
        assert tab.evaluate("getComputedStyle(document.getElementById('panel-text')).unicodeBidi") == "isolate"
    assert tab.evaluate("document.querySelectorAll('#panel b, #tooltip b').length") == 0


def test_the_toggle_hides_exactly_the_special_whitespace_and_byte_tokens(page):
    tab, vmap, _, _ = page
    ordinary = np.flatnonzero(vmap.kind == 0)
    tab.click("#hide-kinds")
    tab.wait_for(f"document.body.dataset.visible === '{ordinary.size}'", "the other kinds to hide")
    assert sorted(tab.evaluate("atlasMap.scatter.get('filteredPoints')")) == ordinary.tolist()
    assert tab.evaluate("atlasMap.search('<|endoftext|>').length") == 0
    tab.click("#hide-kinds")
    tab.wait_for(f"document.body.dataset.visible === '{N}'", "every kind to show again")
    assert tab.evaluate("atlasMap.search('<|endoftext|>')") == [vmap.text.index("<|endoftext|>")]


def test_the_untrained_toggle_highlights_exactly_the_candidates(page):
    tab, vmap, _, _ = page
    flagged = np.flatnonzero(vmap.untrained)
    assert tab.evaluate("document.getElementById('untrained-toggle').hidden") is False
    tab.click("#show-untrained")
    tab.wait_for(f"document.body.dataset.untrained === '{flagged.size}'", "the candidates to be highlighted")
    assert sorted(tab.evaluate("atlasMap.scatter.get('selectedPoints')")) == flagged.tolist()
    tab.click("#show-untrained")
    tab.wait_for("document.body.dataset.untrained === ''", "the highlight to clear")
    assert tab.evaluate("atlasMap.scatter.get('selectedPoints')") == []
