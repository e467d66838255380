"""A map of a whole vocabulary: one offline HTML page drawn with WebGL, or a parquet file for embedding-atlas.

The analysis (elsewhere) gives every token a 2D position, a community and its in-degree; the
graph gives its k nearest neighbours. ``render`` turns that into bytes, deterministically (the
same map gives the same bytes: no timestamps, gzip with mtime 0).

The page packs the numbers as typed arrays: each column's little-endian bytes are split into
byte planes (all first bytes, then all second bytes, ...), the columns concatenated, gzipped
and written as base64; the page inflates them with the browser's ``DecompressionStream``. Byte
planes let gzip drop the bytes that are always zero (the high bytes of a 151,665-row index),
so neighbour row indices cost about 2.3 bytes each instead of 4. Scores are kept as
``round((cosine + 1) * 32767)`` in a uint16 (65535: no neighbour), so a stored score is
within 1/65534 (1.6e-5) of the exact cosine; the page shows 4 decimals. Within a row they
are written as differences from the previous score (best first, so small), modulo 2**16.

The page (``atlas/static/map.html``) inlines regl-scatterplot (vendored by ``atlas/static/npm``)
and needs no network; its Content-Security-Policy allows inline scripts and ``'unsafe-eval'``
(regl compiles its draw calls with ``new Function``) and nothing else.
"""

from __future__ import annotations

import base64
import gzip
import io
import re

import numpy as np

from atlas.core.analysis import Community
from atlas.core.token_text import script_json
from atlas.core.vocabulary_map import KINDS, QUERY_PLACEHOLDER, VocabularyMap
from atlas.errors import ExportError
from atlas.pages.assets import inlined_script, page_template

FORMATS = ("html", "parquet")

SCORE_SCALE = 32767  # a cosine c is stored as round((c + 1) * SCORE_SCALE): 0 .. 65534
NO_SCORE = 65535  # the uint16 of a missing neighbour
GZIP_LEVEL = 6  # at 151,665 x 20 neighbours: level 9 takes ~9x as long for 1% less, level 1 gives 3% more


def render(vmap: VocabularyMap, fmt: str) -> bytes:
    """The map as ``fmt`` ("html" or "parquet"); raises ExportError for another format or an inconsistent map."""
    renderer = _RENDERERS.get(fmt)
    if renderer is None:
        raise ExportError(f"unknown map format {fmt!r}; choose one of {', '.join(FORMATS)}")
    check(vmap)
    return renderer(vmap)


# --- checks ----------------------------------------------------------------------------------


def check(vmap: VocabularyMap) -> None:
    """Raise ExportError naming the first field whose shape, type or values do not fit the map."""
    for name in ("model", "title", "browser_query"):
        if not isinstance(getattr(vmap, name), str):
            raise ExportError(f"{name} must be a string, not {type(getattr(vmap, name)).__name__}")
        _unicode(getattr(vmap, name), name)
    if QUERY_PLACEHOLDER not in vmap.browser_query or re.search("[\r\n\u2028\u2029]", vmap.browser_query):
        raise ExportError(f"browser_query must be one line of Cypher holding {QUERY_PLACEHOLDER} where a token id goes")

    ids = _column(vmap, "ids", "integer")
    n = ids.shape[0]
    if n == 0:
        raise ExportError("the map has no tokens")
    if ids.min() < 0 or ids.max() > np.iinfo(np.int32).max:
        raise ExportError("ids must be token ids from 0 to 2**31 - 1")
    if np.unique(ids).size != n:
        raise ExportError("ids must be unique: a token appears twice")
    if not isinstance(vmap.text, list) or len(vmap.text) != n:
        raise ExportError(f"text must be a list of {n} strings, one per id")
    _check_texts(vmap.text, ids)

    for name in ("x", "y"):
        values = _column(vmap, name, "float", n)
        if not np.isfinite(values).all():
            raise ExportError(f"{name} of token {int(ids[~np.isfinite(values)][0])} is not finite")
    community = _column(vmap, "community", "integer", n)
    _at_least(community, -1, "community", ids)
    _at_least(_column(vmap, "cited", "integer", n), 0, "cited", ids)
    _at_least(_column(vmap, "variant", "integer", n), -1, "variant", ids)
    kind = _column(vmap, "kind", "integer", n)
    if kind.min() < 0 or kind.max() >= len(KINDS):
        raise ExportError(f"kind must be 0 to {len(KINDS) - 1} ({', '.join(KINDS)})")
    for name, number in (
        ("out_degree", "integer"),
        ("pagerank", "float"),
        ("core", "integer"),
        ("clustering", "float"),
    ):
        if getattr(vmap, name) is not None:
            _column(vmap, name, number, n)
    if vmap.untrained is not None:
        untrained = vmap.untrained
        if not isinstance(untrained, np.ndarray) or untrained.dtype != bool or untrained.shape != (n,):
            raise ExportError(f"untrained must be a numpy boolean array of shape ({n},)")
    _check_neighbours(vmap, ids)
    _check_communities(vmap.communities, community)


def _column(vmap: VocabularyMap, name: str, kind: str, n: int | None = None) -> np.ndarray:
    """The named array, checked to be a 1-D numpy array of ``kind`` ("integer" or "float"), of shape (n,) given n."""
    values = getattr(vmap, name)
    if not isinstance(values, np.ndarray) or values.dtype.kind not in {"integer": "iu", "float": "f"}[kind]:
        got = values.dtype if isinstance(values, np.ndarray) else type(values).__name__
        raise ExportError(f"{name} must be a numpy {kind} array, not {got}")
    if values.ndim != 1 or (n is not None and values.shape[0] != n):
        raise ExportError(f"{name} has shape {values.shape}; expected ({n if n is not None else 'n'},), one per token")
    return values


def _at_least(values: np.ndarray, low: int, name: str, ids: np.ndarray) -> None:
    if values.min() < low or values.max() > np.iinfo(np.int32).max:
        bad = int(ids[(values < low) | (values > np.iinfo(np.int32).max)][0])
        raise ExportError(f"{name} of token {bad} is out of range; expected {low} to 2**31 - 1")


def _unicode(text: str, what: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ExportError(f"{what} is not valid Unicode ({e.reason})") from e


def _check_texts(texts: list, ids: np.ndarray) -> None:
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise ExportError(f"text of token {int(ids[i])} must be a string, not {type(t).__name__}")
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        for i, t in enumerate(texts):
            _unicode(t, f"text of token {int(ids[i])}")


def _check_neighbours(vmap: VocabularyMap, ids: np.ndarray) -> None:
    n = ids.shape[0]
    neighbours, scores = vmap.neighbours, vmap.scores
    if not isinstance(neighbours, np.ndarray) or neighbours.dtype.kind not in "iu" or neighbours.ndim != 2:
        raise ExportError("neighbours must be a 2-D numpy integer array of row indices, (n, k)")
    if neighbours.shape[0] != n:
        raise ExportError(f"neighbours has {neighbours.shape[0]} rows; expected {n}, one per token")
    if not isinstance(scores, np.ndarray) or scores.dtype.kind != "f" or scores.shape != neighbours.shape:
        raise ExportError(f"scores must be a numpy float array of the neighbours' shape {neighbours.shape}")
    if neighbours.size == 0:
        return
    if neighbours.min() < -1 or neighbours.max() >= n:
        raise ExportError(f"neighbours must be row indices from 0 to {n - 1} (or -1 for none), not token ids")
    rows = np.arange(n)[:, None]
    if (neighbours == rows).any():
        raise ExportError(f"token {int(ids[(neighbours == rows).any(axis=1)][0])} is listed as its own neighbour")
    ordered = np.sort(neighbours, axis=1)
    twice = (ordered[:, 1:] == ordered[:, :-1]) & (ordered[:, 1:] >= 0)
    if twice.any():
        raise ExportError(f"neighbours of token {int(ids[twice.any(axis=1)][0])} list a token twice")
    missing = neighbours < 0
    if (missing[:, :-1] & ~missing[:, 1:]).any():
        bad = int(ids[(missing[:, :-1] & ~missing[:, 1:]).any(axis=1)][0])
        raise ExportError(f"neighbours of token {bad} have a gap: -1 may only fill the end of a row")
    if not np.array_equal(np.isnan(scores), missing):
        bad = int(ids[(np.isnan(scores) != missing).any(axis=1)][0])
        raise ExportError(f"scores of token {bad} must be NaN exactly where its neighbours are -1")
    present = scores[~missing]
    if present.size and (not np.isfinite(present).all() or present.min() < -1.001 or present.max() > 1.001):
        raise ExportError("scores must be cosine similarities between -1 and 1")


def _check_communities(communities: list, community: np.ndarray) -> None:
    if not isinstance(communities, list) or not all(isinstance(c, Community) for c in communities):
        raise ExportError("communities must be a list of Community")
    by_id = {}
    for c in communities:
        if not isinstance(c.id, (int, np.integer)) or c.id < 0 or c.id > np.iinfo(np.int32).max - 1:
            raise ExportError(f"community id {c.id!r} must be an integer from 0")
        if int(c.id) in by_id:
            raise ExportError(f"community {c.id} is listed twice")
        if not isinstance(c.label, str):
            raise ExportError(f"the label of community {c.id} must be a string")
        _unicode(c.label, f"the label of community {c.id}")
        if not (np.isfinite(c.x) and np.isfinite(c.y)):
            raise ExportError(f"the label position of community {c.id} is not finite")
        by_id[int(c.id)] = c
    used, counts = np.unique(community[community >= 0], return_counts=True)
    for number, count in zip(used.tolist(), counts.tolist()):
        if number not in by_id:
            raise ExportError(f"community {number} holds tokens but is not in communities")
        if by_id[number].size != count:
            raise ExportError(f"community {number} has size {by_id[number].size} but holds {count} tokens")
    for number, c in by_id.items():
        if c.size != 0 and number not in set(used.tolist()):
            raise ExportError(f"community {number} has size {c.size} but holds no tokens")


# --- html ------------------------------------------------------------------------------------


def pack_columns(columns: list[tuple[str, np.ndarray]]) -> tuple[str, list[list]]:
    """Byte-plane, concatenate, gzip and base64 the columns; returns (base64 text, [[name, dtype, length], ...]).

    >>> text, layout = pack_columns([("a", np.array([1, 258], "<u2"))])
    >>> layout, gzip.decompress(base64.b64decode(text))
    ([['a', 'u2', 2]], b'\\x01\\x02\\x00\\x01')
    """
    layout, parts = [], []
    for name, values in columns:
        values = np.ascontiguousarray(values).reshape(-1)
        size = values.dtype.itemsize
        planes = values.view(np.uint8).reshape(values.size, size).T  # (size, length): byte b of every value
        parts.append(planes.tobytes())
        layout.append([name, values.dtype.str.lstrip("<|"), int(values.size)])
    packed = gzip.compress(b"".join(parts), compresslevel=GZIP_LEVEL, mtime=0)
    return base64.b64encode(packed).decode("ascii"), layout


def quantise_scores(scores: np.ndarray) -> np.ndarray:
    """(n, k) cosines -> (n, k) uint16 ``round((c + 1) * 32767)``, NaN -> 65535.

    >>> quantise_scores(np.array([[1.0, 0.5, -1.0, np.nan]], np.float32)).tolist()
    [[65534, 49150, 0, 65535]]
    """
    q = np.rint((np.clip(scores.astype(np.float64), -1.0, 1.0) + 1.0) * SCORE_SCALE)
    q[np.isnan(scores)] = NO_SCORE
    return q.astype(np.uint16)


def delta_rows(q: np.ndarray) -> np.ndarray:
    """Each row's first value, then each value subtracted from the one before it, modulo 2**16.

    >>> delta_rows(np.array([[60000, 59990, 59000]], np.uint16)).tolist()
    [[60000, 10, 990]]
    """
    d = q.copy()
    d[:, 1:] = q[:, :-1] - q[:, 1:]  # uint16 arithmetic wraps modulo 2**16
    return d


def _measure_columns(vmap: VocabularyMap) -> list[tuple[str, np.ndarray]]:
    """The graph measures the click panel shows, packed when the map has them."""
    kinds = {"out_degree": "<i4", "pagerank": "<f4", "core": "<i4", "clustering": "<f4"}
    return [(name, getattr(vmap, name).astype(kind)) for name, kind in kinds.items() if getattr(vmap, name) is not None]


def _render_html(vmap: VocabularyMap) -> bytes:
    n, k = vmap.neighbours.shape
    points, points_layout = pack_columns(
        [
            ("ids", vmap.ids.astype("<i4")),
            ("x", vmap.x.astype("<f4")),
            ("y", vmap.y.astype("<f4")),
            ("community", vmap.community.astype("<i4")),
            ("cited", vmap.cited.astype("<i4")),
            ("variant", vmap.variant.astype("<i4")),
            ("kind", vmap.kind.astype("u1")),
            *_measure_columns(vmap),
            *([("untrained", vmap.untrained.astype("u1"))] if vmap.untrained is not None else []),
        ]
    )
    neighbours, neighbours_layout = pack_columns(
        [
            ("neighbours", vmap.neighbours.astype("<i4")),
            ("scores", delta_rows(quantise_scores(vmap.scores)).astype("<u2")),
        ]
    )
    communities = sorted(vmap.communities, key=lambda c: (-c.size, c.id))
    meta = {
        "model": vmap.model,
        "title": vmap.title,
        "n": n,
        "k": k,
        "browserQuery": vmap.browser_query,
        "placeholder": QUERY_PLACEHOLDER,
        "kinds": list(KINDS),
        "scoreScale": SCORE_SCALE,
        "noScore": NO_SCORE,
        "points": points_layout,
        "neighbours": neighbours_layout,
        "communities": [
            {
                "id": int(c.id),
                "label": c.label,
                "size": int(c.size),
                "x": float(np.float32(c.x)),
                "y": float(np.float32(c.y)),
            }
            for c in communities
        ],
    }
    fills = {
        "__MAP_META__": script_json(meta),
        "__MAP_TEXTS__": script_json(vmap.text),
        "__MAP_POINTS__": points,
        "__MAP_NEIGHBOURS__": neighbours,
        "__MAP_LIBRARY__": inlined_script("regl-scatterplot.min.js"),
    }
    page = re.sub(
        "__MAP_(?:META|TEXTS|POINTS|NEIGHBOURS|LIBRARY)__", lambda m: fills[m.group()], page_template("map.html")
    )
    return page.encode("utf-8")


# --- parquet ---------------------------------------------------------------------------------


def _render_parquet(vmap: VocabularyMap) -> bytes:
    """One row per token for Apple's embedding-atlas: ``embedding-atlas map.parquet --text text --x x --y y
    --neighbors neighbors``. ``neighbors`` is ``{"ids": [row, ...], "distances": [1 - cosine, ...]}`` with
    zero-based row indices, best first; missing neighbours are left out of the lists."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    present = vmap.neighbours >= 0  # (n, k), True in a prefix of each row
    offsets = np.zeros(len(vmap.ids) + 1, np.int32)
    np.cumsum(present.sum(axis=1), out=offsets[1:])
    rows = pa.array(vmap.neighbours[present].astype(np.int32), pa.int32())
    distances = pa.array((1.0 - vmap.scores[present].astype(np.float64)).astype(np.float32), pa.float32())
    offsets = pa.array(offsets, pa.int32())
    neighbors = pa.StructArray.from_arrays(
        [pa.ListArray.from_arrays(offsets, rows), pa.ListArray.from_arrays(offsets, distances)],
        names=["ids", "distances"],
    )
    table = pa.table(
        {
            "id": pa.array(vmap.ids.astype(np.int64), pa.int64()),
            "text": pa.array(vmap.text, pa.string()),
            "x": pa.array(vmap.x.astype(np.float32), pa.float32()),
            "y": pa.array(vmap.y.astype(np.float32), pa.float32()),
            "community": pa.array(vmap.community.astype(np.int32), pa.int32()),
            "cited": pa.array(vmap.cited.astype(np.int32), pa.int32()),
            "neighbors": neighbors,
        }
    )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


_RENDERERS = {"html": _render_html, "parquet": _render_parquet}
