"""A griffe extension for the API pages: docstring examples (``>>>`` lines and their output) become ``pycon`` code blocks.

The docstrings keep plain doctest examples, which the tests run; in Markdown they would be
paragraphs, where ``[0]["score"]`` reads as a reference link. ``# doctest:`` flags are dropped.
"""

from __future__ import annotations

import re

import griffe

FLAGS = re.compile(r"\s*# doctest:.*$")


def fenced(text: str) -> str:
    lines, out, i = text.split("\n"), [], 0
    while i < len(lines):
        line = lines[i]
        if not line.lstrip().startswith(">>>"):
            out.append(line)
            i += 1
            continue
        indent = line[: len(line) - len(line.lstrip())]
        block = []
        while i < len(lines) and lines[i].strip():
            block.append(FLAGS.sub("", lines[i]))
            i += 1
        if out and out[-1].strip():
            out.append("")
        out += [f"{indent}```pycon", *block, f"{indent}```"]
    return "\n".join(out)


class DoctestFences(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = fenced(obj.docstring.value)
