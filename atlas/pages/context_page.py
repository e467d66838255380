"""The page of ``atlas context --format html``: per-layer lists and each token's path over the static map.

A hidden state has no place of its own on the map (the map lays out the static input
embeddings). Each state is placed at the mean map position of its k nearest static
tokens: where on the static map the state "points". At layer 0 that is near the token
itself; a path that drifts toward "river" or "money" shows the context pulling it.

One offline file: the data as JSON inside the page (:func:`atlas.core.token_text.script_json`,
so ``</script>`` in token text cannot end the element), drawn by a small inline script on a
canvas; every token text goes through ``textContent``, never ``innerHTML``. The page sets
``document.body.dataset.layers`` (layers drawn) and ``dataset.paths`` (paths drawn) for tests.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

import numpy as np

from atlas.core.token_text import display_text, escape_controls, script_json

COLOURS = ("#d62728", "#1f77b4", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf")


def state_place(nearest: list[dict], positions: Mapping[int, tuple[float, float]]) -> tuple[float, float] | None:
    """The mean map position of the nearest tokens that have one; None when none has.

    >>> state_place([{"id": 1}, {"id": 2}, {"id": 3}], {1: (0.0, 0.0), 2: (2.0, 4.0)})
    (1.0, 2.0)
    """
    found = [positions[n["id"]] for n in nearest if n["id"] in positions]
    if not found:
        return None
    x, y = np.mean(np.array(found, dtype=np.float64), axis=0)
    return float(x), float(y)


def page_data(result: dict, positions: Mapping[int, tuple[float, float]], backdrop: np.ndarray) -> dict:
    """What the page draws: one path per (text, token) through its layers, the lists, and the backdrop."""
    paths = []
    for n, text in enumerate(result["texts"]):
        for position in dict.fromkeys(e["position"] for e in text["states"]):
            entries = [e for e in text["states"] if e["position"] == position]
            steps = []
            for e in entries:
                place = state_place(e["nearest"], positions)
                steps.append(
                    {
                        "layer": e["layer"],
                        "own": round(e["own_cosine"], 4),
                        "x": None if place is None else place[0],
                        "y": None if place is None else place[1],
                        "nearest": [
                            {"label": display_text(r["text"]), "score": round(r["score"], 4)} for r in e["nearest"]
                        ],
                        "atlas": [
                            {"label": display_text(r["text"]), "score": round(r["score"], 4)}
                            for r in e.get("atlas", [])
                        ],
                    }
                )
            own = positions.get(entries[0]["id"])
            paths.append(
                {
                    "text": n,
                    "textLabel": escape_controls(text["text"]),
                    "token": display_text(entries[0]["token"]),
                    "position": position,
                    "colour": COLOURS[n % len(COLOURS)],
                    "home": None if own is None else list(own),
                    "steps": steps,
                }
            )
    return {
        "model": escape_controls(result["model"]),
        "word": None if result["word"] is None else escape_controls(result["word"]),
        "k": result["k"],
        "layers": result["layers"],
        "paths": paths,
        "comparisons": [
            {
                "a": c["a"],
                "b": c["b"],
                "layer": c["layer"],
                "cosine": round(c["cosine"], 4),
                "towardA": [display_text(r["text"]) for r in c["toward_a"][:5]],
                "towardB": [display_text(r["text"]) for r in c["toward_b"][:5]],
            }
            for c in result["comparisons"]
        ],
        "backdrop": np.round(backdrop, 3).ravel().tolist(),
    }


def render(result: dict, positions: Mapping[int, tuple[float, float]], backdrop: np.ndarray) -> str:
    """The self-contained page for a context result (``Context.to_dict()``), its tokens' map ``positions`` and a backdrop."""
    data = page_data(result, positions, backdrop)
    title = html.escape(f"{data['word'] or 'tokens'} through the layers of {data['model']}")
    values = {"__TITLE__": title, "__DATA__": script_json(data)}
    # one pass: a placeholder inside a substituted value (a token "__DATA__" in the title) stays text
    return re.sub("__TITLE__|__DATA__", lambda found: values[found.group(0)], _TEMPLATE)


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>__TITLE__</title>
<style>
body{font:14px system-ui,sans-serif;margin:16px;color:#222}
#map{border:1px solid #ccc;display:block;margin:8px 0}
table{border-collapse:collapse;margin:4px 0 16px}
td,th{border-bottom:1px solid #eee;padding:2px 8px;text-align:left;vertical-align:top}
.tok{font-family:ui-monospace,monospace;unicode-bidi:isolate}
.note{color:#666}
h2{font-size:16px;margin:18px 0 4px}
</style></head>
<body><h1 style="font-size:18px">__TITLE__</h1>
<p class="note">Each layer's state is placed at the mean map position of its nearest static tokens; a ring marks the
token's own place on the static map. Lists: exact cosine of the state to the input-embedding rows.</p>
<canvas id="map" width="900" height="600"></canvas>
<div id="lists"></div>
<script type="application/json" id="data">__DATA__</script>
<script>
(function () {
  var data = JSON.parse(document.getElementById("data").textContent);
  var canvas = document.getElementById("map"), ctx = canvas.getContext("2d");
  var xs = [], ys = [], i, p, s;
  for (i = 0; i < data.backdrop.length; i += 2) { xs.push(data.backdrop[i]); ys.push(data.backdrop[i + 1]); }
  data.paths.forEach(function (p) {
    if (p.home) { xs.push(p.home[0]); ys.push(p.home[1]); }
    p.steps.forEach(function (s) { if (s.x !== null) { xs.push(s.x); ys.push(s.y); } });
  });
  var x0 = Math.min.apply(null, xs.concat([0])), x1 = Math.max.apply(null, xs.concat([1]));
  var y0 = Math.min.apply(null, ys.concat([0])), y1 = Math.max.apply(null, ys.concat([1]));
  function X(x) { return 20 + (x - x0) / ((x1 - x0) || 1) * (canvas.width - 40); }
  function Y(y) { return canvas.height - 20 - (y - y0) / ((y1 - y0) || 1) * (canvas.height - 40); }
  ctx.fillStyle = "rgba(0,0,0,0.12)";
  for (i = 0; i < data.backdrop.length; i += 2) ctx.fillRect(X(data.backdrop[i]), Y(data.backdrop[i + 1]), 1.5, 1.5);
  var drawn = 0, layersDrawn = {};
  data.paths.forEach(function (p) {
    var pts = p.steps.filter(function (s) { return s.x !== null; });
    ctx.strokeStyle = p.colour; ctx.fillStyle = p.colour; ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach(function (s, j) { if (j) ctx.lineTo(X(s.x), Y(s.y)); else ctx.moveTo(X(s.x), Y(s.y)); });
    ctx.stroke();
    pts.forEach(function (s) {
      ctx.beginPath(); ctx.arc(X(s.x), Y(s.y), 4, 0, 7); ctx.fill();
      ctx.fillText("L" + s.layer, X(s.x) + 6, Y(s.y) - 4); layersDrawn[s.layer] = 1;
    });
    if (p.home) { ctx.beginPath(); ctx.arc(X(p.home[0]), Y(p.home[1]), 8, 0, 7); ctx.stroke();
      ctx.fillText(p.token, X(p.home[0]) + 10, Y(p.home[1]) + 12); }
    if (pts.length) drawn += 1;
  });
  var lists = document.getElementById("lists");
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text;
    if (cls) e.className = cls; return e; }
  function words(rows) { return rows.map(function (r) { return r.label + " " + r.score.toFixed(2); }).join("  "); }
  data.paths.forEach(function (p) {
    var h = el("h2"); h.appendChild(el("span", "text " + (p.text + 1) + ": " + p.textLabel));
    h.style.color = p.colour; lists.appendChild(h);
    lists.appendChild(el("div", "token " + p.token + " (position " + p.position + ")", "tok"));
    var table = el("table"), head = el("tr");
    ["layer", "own", "nearest"].forEach(function (t) { head.appendChild(el("th", t)); });
    table.appendChild(head);
    p.steps.forEach(function (s) {
      var tr = el("tr"); tr.className = "layer";
      tr.appendChild(el("td", String(s.layer))); tr.appendChild(el("td", s.own.toFixed(2)));
      tr.appendChild(el("td", words(s.nearest), "tok")); table.appendChild(tr);
      if (s.atlas.length) { var a = el("tr"); a.appendChild(el("td", "@" + s.layer)); a.appendChild(el("td", ""));
        a.appendChild(el("td", words(s.atlas), "tok")); table.appendChild(a); }
    });
    lists.appendChild(table);
  });
  if (data.comparisons.length) {
    lists.appendChild(el("h2", "the word across texts"));
    var t = el("table"), hr = el("tr");
    ["texts", "layer", "cosine", "toward the first", "toward the second"].forEach(function (x) { hr.appendChild(el("th", x)); });
    t.appendChild(hr);
    data.comparisons.forEach(function (c) {
      var tr = el("tr");
      [(c.a + 1) + " vs " + (c.b + 1), String(c.layer), c.cosine.toFixed(2), c.towardA.join("  "), c.towardB.join("  ")]
        .forEach(function (x, j) { tr.appendChild(el("td", x, j > 2 ? "tok" : undefined)); });
      t.appendChild(tr);
    });
    lists.appendChild(t);
  }
  document.body.dataset.layers = String(Object.keys(layersDrawn).length);
  document.body.dataset.paths = String(drawn);
  document.body.dataset.rows = String(document.querySelectorAll("tr.layer").length);
})();
</script></body></html>
"""
