"""A griffe extension for the API pages: an options field made with ``option(default, "help", ...)``
(:mod:`atlas.core.load_options`) is documented by its help, the text ``atlas load --help`` shows."""

from __future__ import annotations

import ast

import griffe


class OptionHelp(griffe.Extension):
    def on_attribute_instance(self, *, attr: griffe.Attribute, **kwargs) -> None:
        value = attr.value
        if not isinstance(value, griffe.ExprCall) or str(value.function) != "option" or len(value.arguments) < 2:
            return
        attr.value, help = value.arguments[:2]  # shown as ``k = 20``, with the help as its text
        attr.docstring = griffe.Docstring(ast.literal_eval(str(help)), parent=attr)
