"""The files that make up the offline pages (``atlas/static/``): templates, shared scripts, vendored libraries.

The HTML export (``graph.html``) and the vocabulary map (``map.html``) are single files:
each template gets the code both pages share (``__LABEL_BOXES__``, at the top of its script) and its vendored
library inlined.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from atlas.errors import ExportError


@cache
def static_text(name: str) -> str:
    """The text of ``atlas/static/NAME``."""
    return resources.files("atlas").joinpath("static", name).read_text(encoding="utf-8")


def page_template(name: str) -> str:
    """The page template ``atlas/static/NAME`` with the shared scripts inlined; its own placeholders are left."""
    return static_text(name).replace("__LABEL_BOXES__", inlined_script("label-boxes.js"))


def inlined_script(name: str) -> str:
    """The script ``atlas/static/NAME``, checked to be safe inside a ``<script>`` element."""
    script = static_text(name)
    if "</script" in script.lower() or "<!--" in script:
        raise ExportError(f"atlas/static/{name} cannot be inlined; run `npm ci && npm run vendor` in atlas/static/npm")
    return script
