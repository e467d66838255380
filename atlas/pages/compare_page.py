"""One token's neighbourhoods in two models, side by side, as one offline HTML page.

The left column lists the token's nearest tokens in model A, the right its partner's in
model B, best first; a token both lists hold is marked and joined to its place in the other
list by a line. The page is drawn in Python (an inline SVG, no script, nothing fetched);
token text and model names are untrusted and escaped. ``document.body.dataset`` says what
is shown (``left``, ``right``, ``shared``) for tests in a real browser.
"""

from __future__ import annotations

from html import escape

from atlas.core.token_text import display_text, escape_controls

ROW = 26  # pixels per list row
GAP = 160  # pixels between the two lists, where the lines go

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 18px; margin: 0 0 4px; } p.figures { margin: 0 0 16px; color: #555; }
.sides { display: flex; align-items: flex-start; }
ol { list-style: none; margin: 0; padding: 0; width: 300px; }
li { height: %(row)dpx; line-height: %(row)dpx; padding: 0 8px; white-space: nowrap; overflow: hidden;
     text-overflow: ellipsis; border-bottom: 1px solid #eee; }
li.shared { background: #e4f1e1; font-weight: 600; }
.rank { display: inline-block; width: 2.2em; color: #888; }
.score { float: right; color: #888; font-variant-numeric: tabular-nums; }
h2 { font-size: 15px; margin: 0 0 6px; height: 40px; }
svg { flex: none; margin-top: 46px; }
"""


def _title(text: str) -> str:
    return escape(display_text(text))


def _name(name: str) -> str:
    return escape(escape_controls(name))


def _items(rows: list[dict]) -> str:
    return "\n".join(
        f'<li class="{"shared" if r["shared"] else "own"}" data-id="{int(r["id"])}">'
        f'<span class="rank">{int(r["rank"])}</span>{_title(r["text"])}'
        f'<span class="score">{float(r["score"]):.3f}</span></li>'
        for r in rows
    )


def _lines(page: dict) -> str:
    """SVG lines from each shared token on the left to its partner's place on the right."""
    right_by_id = {r["id"]: i for i, r in enumerate(page["right"])}
    height = ROW * max(len(page["left"]), len(page["right"]), 1)
    lines = []
    for i, row in enumerate(page["left"]):
        if not row["shared"]:
            continue
        j = right_by_id.get(row["partner"])
        if j is None:
            continue
        y1, y2 = ROW * i + ROW / 2, ROW * j + ROW / 2
        lines.append(f'<line x1="4" y1="{y1:g}" x2="{GAP - 4}" y2="{y2:g}" stroke="#5a9e4b" stroke-width="1.5"/>')
    return (
        f'<svg width="{GAP}" height="{height}" viewBox="0 0 {GAP} {height}" aria-hidden="true">'
        + "".join(lines)
        + "</svg>"
    )


def render_page(page: dict) -> str:
    """The page of ``page`` (see :func:`atlas.views.compare.compare_models`): a complete HTML document."""
    shared = sum(r["shared"] for r in page["left"])
    token_a, token_b = page["token_a"], page["token_b"]
    partner = "" if token_b["text"] == token_a["text"] else f" (its partner: {_title(token_b['text'])})"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{_title(token_a["text"])}: {_name(page["a"])} and {_name(page["b"])}</title>
<style>{STYLE % {"row": ROW}}</style>
</head>
<body data-left="{len(page["left"])}" data-right="{len(page["right"])}" data-shared="{shared}">
<h1>The {page["k"]} nearest tokens of {_title(token_a["text"])} (id {int(token_a["id"])}){partner}</h1>
<p class="figures">matched by {escape(page["matched_by"])}; {shared} shared; Jaccard {page["jaccard"]:.3f},
rank-biased overlap {page["rbo"]:.3f}</p>
<div class="sides">
<div class="side" id="left"><h2>{_name(page["a"])}</h2><ol>
{_items(page["left"])}
</ol></div>
{_lines(page)}
<div class="side" id="right"><h2>{_name(page["b"])}</h2><ol>
{_items(page["right"])}
</ol></div>
</div>
</body>
</html>
"""
