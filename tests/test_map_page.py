"""atlas.pages.map_page without a browser: checks, determinism, the packed page data decoded back, parquet read back."""

from __future__ import annotations

import base64
import dataclasses
import doctest
import gzip
import io
import json
import re
from html.parser import HTMLParser

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from vocab_maps import BROWSER_QUERY, HOSTILE, synthetic_map

from atlas.core.analysis import Community
from atlas.errors import ExportError
from atlas.pages import map_page as vocab_map
from atlas.pages.map_page import check, render

N, K = 1500, 8


@pytest.fixture(scope="module")
def vmap():
    return synthetic_map(N, K, communities=25, seed=5)


@pytest.fixture(scope="module")
def page_html(vmap) -> str:
    return render(vmap, "html").decode("utf-8")


class Scripts(HTMLParser):
    """Every <script> element of a page as (attributes, text), the way a browser splits them."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=False)
        self.scripts: list[tuple[dict, str]] = []
        self._open: dict | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open, self._text = dict(attrs), []

    def handle_data(self, data):
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag):
        if tag == "script" and self._open is not None:
            self.scripts.append((self._open, "".join(self._text)))
            self._open = None

    def by_id(self, name: str) -> str:
        (text,) = [text for attrs, text in self.scripts if attrs.get("id") == name]
        return text


def unpack(text: str, layout: list) -> dict[str, np.ndarray]:
    """The page's decoder, in Python: base64, gunzip, byte planes back into little-endian arrays."""
    planes = gzip.decompress(base64.b64decode(text))
    columns, offset = {}, 0
    for name, dtype, length in layout:
        size = np.dtype(dtype).itemsize
        block = np.frombuffer(planes, np.uint8, size * length, offset).reshape(size, length)
        columns[name] = np.ascontiguousarray(block.T).view("<" + dtype if size > 1 else dtype).reshape(length)
        offset += size * length
    assert offset == len(planes)
    return columns


def replace(vmap, **fields):
    return dataclasses.replace(vmap, **fields)


# --- checks ------------------------------------------------------------------------------------


def test_the_synthetic_map_is_consistent(vmap):
    check(vmap)
    assert vmap.neighbours.shape == (N, K)
    assert (vmap.neighbours < 0).any()  # small communities leave rows short
    assert set(np.unique(vmap.kind)) == {0, 1, 2, 3}
    assert not np.array_equal(vmap.ids, np.arange(N))  # row indices and ids differ


def _bad_fields(v):
    n = len(v.ids)
    nb = v.neighbours.copy()
    self_ref = nb.copy()
    self_ref[0, 0] = 0
    twice = nb.copy()
    twice[0, 1] = twice[0, 0]
    gap = nb.copy()
    gap[0, 0] = -1
    ids_as_neighbours = nb.copy()
    ids_as_neighbours[0, 0] = n + 3
    nan_scores = v.scores.copy()
    nan_scores[0, 0] = np.nan
    big = v.scores.copy()
    big[0, 0] = 1.5
    sizes = [dataclasses.replace(c, size=c.size + 1) if c.id == 0 else c for c in v.communities]
    return [
        (dict(ids=v.ids.astype(np.float64)), "ids must be a numpy integer array"),
        (dict(ids=np.r_[v.ids[:-1], v.ids[0]]), "ids must be unique"),
        (dict(ids=v.ids - v.ids.max() - 1), "ids must be token ids from 0"),
        (dict(text=v.text[:-1]), f"text must be a list of {n} strings"),
        (dict(text=[*v.text[:-1], b"bytes"]), "must be a string, not bytes"),
        (dict(text=[*v.text[:-1], "\ud800"]), "is not valid Unicode"),
        (dict(x=v.x[:-1]), rf"x has shape \({n - 1},\); expected \({n},\)"),
        (dict(y=np.where(np.arange(n) == 3, np.nan, v.y).astype(np.float32)), "y of token .* is not finite"),
        (dict(community=v.community - 2), "community of token .* is out of range"),
        (dict(cited=v.cited - 1 - v.cited.max()), "cited of token .* is out of range"),
        (dict(kind=np.full(n, 4, np.uint8)), "kind must be 0 to 3"),
        (dict(variant=v.variant.astype(np.float32)), "variant must be a numpy integer array"),
        (dict(neighbours=nb[:-1]), f"neighbours has {n - 1} rows; expected {n}"),
        (dict(neighbours=ids_as_neighbours), "row indices from 0 to .*not token ids"),
        (dict(neighbours=self_ref), "is listed as its own neighbour"),
        (dict(neighbours=twice), "list a token twice"),
        (dict(neighbours=gap), "have a gap"),
        (dict(scores=v.scores[:, :-1]), "scores must be a numpy float array of the neighbours' shape"),
        (dict(scores=nan_scores), "must be NaN exactly where its neighbours are -1"),
        (dict(scores=big), "cosine similarities between -1 and 1"),
        (dict(communities=v.communities[1:]), "community 0 holds tokens but is not in communities"),
        (dict(communities=[*v.communities, v.communities[0]]), "community 0 is listed twice"),
        (dict(communities=sizes), "community 0 has size .* but holds"),
        (
            dict(communities=[dataclasses.replace(v.communities[0], label="a\udc80"), *v.communities[1:]]),
            "the label of community 0 is not valid Unicode",
        ),
        (dict(title="\ud800"), "title is not valid Unicode"),
        (
            dict(browser_query="MATCH (t:Token) RETURN t"),
            "browser_query must be one line of Cypher holding __TOKEN_ID__",
        ),
        (dict(browser_query=BROWSER_QUERY + "\nRETURN 1"), "browser_query must be one line"),
        (dict(untrained=np.zeros(n - 1, dtype=bool)), rf"untrained must be a numpy boolean array of shape \({n},\)"),
        (dict(untrained=np.zeros(n, dtype=np.uint8)), "untrained must be a numpy boolean array"),
    ]


@pytest.mark.parametrize("case", range(len(_bad_fields(synthetic_map(60, 4, 3, 0)))))
def test_an_inconsistent_map_is_refused_with_what_is_wrong(case):
    v = synthetic_map(60, 4, 3, 0)
    fields, message = _bad_fields(v)[case]
    with pytest.raises(ExportError, match=message):
        render(replace(v, **fields), "html")


def test_an_empty_map_and_an_unknown_format_are_refused(vmap):
    empty = replace(
        vmap,
        ids=vmap.ids[:0],
        text=[],
        x=vmap.x[:0],
        y=vmap.y[:0],
        community=vmap.community[:0],
        cited=vmap.cited[:0],
        kind=vmap.kind[:0],
        variant=vmap.variant[:0],
        neighbours=vmap.neighbours[:0],
        scores=vmap.scores[:0],
        communities=[],
    )
    with pytest.raises(ExportError, match="the map has no tokens"):
        check(empty)
    with pytest.raises(ExportError, match="unknown map format 'svg'; choose one of html, parquet"):
        render(vmap, "svg")


def test_docstring_examples():
    assert doctest.testmod(vocab_map).failed == 0


# --- html --------------------------------------------------------------------------------------


def test_rendering_is_deterministic(vmap, page_html):
    assert render(vmap, "html") == page_html.encode("utf-8")
    assert render(synthetic_map(N, K, communities=25, seed=5), "html") == page_html.encode("utf-8")
    assert render(vmap, "parquet") == render(vmap, "parquet")


def test_the_packed_arrays_decode_back_to_the_map(vmap, page_html):
    scripts = Scripts(page_html)
    meta = json.loads(scripts.by_id("map-meta"))
    assert (meta["n"], meta["k"], meta["model"], meta["title"]) == (N, K, vmap.model, vmap.title)
    assert meta["browserQuery"] == BROWSER_QUERY
    assert json.loads(scripts.by_id("map-texts")) == vmap.text

    points = unpack(scripts.by_id("map-points"), meta["points"])
    assert np.array_equal(points["ids"], vmap.ids)
    for name in ("x", "y", "community", "cited", "variant", "kind"):
        assert points[name].dtype == getattr(vmap, name).dtype, name
        assert np.array_equal(points[name], getattr(vmap, name)), name

    packed = unpack(scripts.by_id("map-neighbours"), meta["neighbours"])
    assert np.array_equal(packed["neighbours"].reshape(N, K), vmap.neighbours)
    deltas = packed["scores"].reshape(N, K).astype(np.int64)
    q = np.empty_like(deltas)
    q[:, 0] = deltas[:, 0]
    for j in range(1, K):
        q[:, j] = (q[:, j - 1] - deltas[:, j]) % 65536
    missing = q == meta["noScore"]
    assert np.array_equal(missing, np.isnan(vmap.scores))
    decoded = q / meta["scoreScale"] - 1.0
    assert np.abs(decoded[~missing] - vmap.scores[~missing]).max() <= 1 / 65534 + 1e-7

    communities = {c["id"]: c for c in meta["communities"]}
    assert [c["id"] for c in meta["communities"]] == [c.id for c in sorted(vmap.communities, key=lambda c: -c.size)]
    for c in vmap.communities:
        assert communities[c.id] == {
            "id": c.id,
            "label": c.label,
            "size": c.size,
            "x": pytest.approx(c.x),
            "y": pytest.approx(c.y),
        }


def test_the_untrained_flags_are_packed_only_when_the_map_has_them(vmap, page_html):
    meta = json.loads(Scripts(page_html).by_id("map-meta"))
    assert "untrained" not in {name for name, _, _ in meta["points"]}
    flags = np.zeros(N, dtype=bool)
    flags[[3, 17, 40]] = True
    scripts = Scripts(render(replace(vmap, untrained=flags), "html").decode("utf-8"))
    meta = json.loads(scripts.by_id("map-meta"))
    points = unpack(scripts.by_id("map-points"), meta["points"])
    assert np.flatnonzero(points["untrained"]).tolist() == [3, 17, 40]


def test_hostile_token_text_cannot_leave_its_script_element(vmap, page_html):
    scripts = Scripts(page_html)
    names = [attrs.get("id") for attrs, _ in scripts.scripts]
    assert names == ["map-meta", "map-points", None, None, "map-texts", "map-neighbours"]
    texts = scripts.by_id("map-texts")
    for marker in ("<", ">", "&", "\u2028", "\u2029"):
        assert marker not in texts
    assert json.loads(texts) == vmap.text
    assert all(t in vmap.text for t in HOSTILE)
    assert "</script" not in scripts.by_id("map-meta") and "<" not in scripts.by_id("map-meta")
    assert page_html.count("</script") == len(scripts.scripts)
    for blob in ("map-points", "map-neighbours"):
        assert re.fullmatch("[A-Za-z0-9+/=]+", scripts.by_id(blob))


def test_the_page_is_one_offline_file(page_html):
    assert "Content-Security-Policy" in page_html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page_html).group(1)
    assert csp.startswith("default-src 'none';")
    assert not re.search(r"""\b(?:src|href)\s*=\s*["']?(?:https?:)?//""", page_html)
    assert "ReglScatterplot" in page_html


# --- parquet -----------------------------------------------------------------------------------


def test_parquet_reads_back_for_embedding_atlas(vmap):
    table = pq.read_table(io.BytesIO(render(vmap, "parquet")))
    expected = pa.schema(
        [
            ("id", pa.int64()),
            ("text", pa.string()),
            ("x", pa.float32()),
            ("y", pa.float32()),
            ("community", pa.int32()),
            ("cited", pa.int32()),
            ("neighbors", pa.struct([("ids", pa.list_(pa.int32())), ("distances", pa.list_(pa.float32()))])),
        ]
    )
    assert table.schema.remove_metadata() == expected
    assert table.num_rows == N
    assert table.column("id").to_pylist() == vmap.ids.tolist()
    assert table.column("text").to_pylist() == vmap.text
    for name in ("x", "y", "community", "cited"):
        assert np.array_equal(table.column(name).to_numpy(), getattr(vmap, name)), name
    neighbors = table.column("neighbors").to_pylist()
    for row in (0, 1, 17, N - 1, *np.flatnonzero((vmap.neighbours < 0).any(axis=1))[:3].tolist()):
        present = vmap.neighbours[row] >= 0
        assert neighbors[row]["ids"] == vmap.neighbours[row][present].tolist()  # zero-based rows, best first
        expected_distances = (1.0 - vmap.scores[row][present].astype(np.float64)).astype(np.float32)
        assert np.array_equal(np.array(neighbors[row]["distances"], np.float32), expected_distances)
    assert sum(len(r["ids"]) for r in neighbors) == int((vmap.neighbours >= 0).sum())


def test_communities_are_plain_records():
    c = Community(3, 2, "a · b", 0.5, -1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.size = 4
