"""Named views: a file ``cypher/view_<name>.cypher`` is a subgraph users can export by name.

Its contract:

- the header has a line ``// Parameters: $model (string), $text (string), $k (integer, default 10).``
  naming every parameter, each with a type (``string``, ``integer``, ``float`` or
  ``boolean``) and optionally a default; ``$model`` is always one of them, and ``$k``
  (the nearest tokens shown per seed) is one when the view lets users choose it.
  Values given as strings (from a command line) are converted to the declared type;
  ``k`` must lie in 1..the model's k (default: the declared default, at most the model's k).
- the statement finds the view's seed tokens and returns one row with one column,
  ``ids``: their token ids. The subgraph is then what every seeded view shows
  (``cypher/seeded_subgraph.cypher``): the seeds, the k nearest tokens of each, and
  every SIMILAR_TO edge among them.

Adding a view is adding one file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from atlas.core.subgraph import Subgraph
from atlas.errors import InvalidArgument
from atlas.graph.queries import header, names, query
from atlas.graph.store import Store
from atlas.views.lookup import check_stored_k
from atlas.views.neighbourhoods import STATEMENT, seeded_subgraph

VIEW_PREFIX = "view_"
PARAM_TYPES = ("string", "integer", "float", "boolean")
DEFAULT_K = 10  # neighbours per seed for a view that does not declare $k


@dataclass(frozen=True)
class Parameter:
    """One ``$parameter`` of a named view, as its header declares it."""

    name: str
    type: str
    default: Any = None
    required: bool = True


_DECLARED = re.compile(r"\$(\w+)\s*\(([^)]*)\)")
_USED = re.compile(r"\$(\w+)")


def view_names() -> list[str]:
    """The named views users can export (``cypher/view_*.cypher``), sorted."""
    return [name for name in names() if name.startswith(VIEW_PREFIX)]


def view_parameters(name: str) -> list[Parameter]:
    """The parameters a view declares in its ``// Parameters:`` header line, in order."""
    name = _view_name(name)
    line = next((text for text in header(name).splitlines() if text.startswith("Parameters:")), "")
    params = []
    for pname, spec in _DECLARED.findall(line):
        parts = [p.strip() for p in spec.split(",")]
        kind = parts[0]
        if kind not in PARAM_TYPES:
            raise InvalidArgument(
                f"view {name} declares ${pname} with unknown type {kind!r}; use one of {', '.join(PARAM_TYPES)}"
            )
        default = next((p[len("default ") :].strip() for p in parts[1:] if p.startswith("default ")), None)
        if default is None:
            params.append(Parameter(pname, kind))
        else:
            params.append(Parameter(pname, kind, _convert(name, pname, kind, default), required=False))
    return params


def statement_parameters(name: str) -> list[str]:
    """The ``$parameters`` a statement's body (without its ``//`` header) uses, in first-use order.

    For a view, the parameters running it uses: its own, then those of the shared
    seeded statement except ``$ids``, which the view gives.
    """
    used = _used(name)
    if name.startswith(VIEW_PREFIX):
        used += [p for p in _used(STATEMENT) if p != "ids" and p not in used]
    return used


def _used(name: str) -> list[str]:
    body = "\n".join(text for text in query(name).splitlines() if not text.lstrip().startswith("//"))
    return list(dict.fromkeys(_USED.findall(body)))


def _view_name(name: str) -> str:
    full = name if name.startswith(VIEW_PREFIX) else VIEW_PREFIX + name
    if full not in view_names():
        raise InvalidArgument(f"unknown view {name!r}; available views: {', '.join(view_names())}")
    return full


def _convert(view: str, pname: str, kind: str, value: Any) -> Any:
    """``value`` as the declared type; strings (from a command line) are parsed."""
    try:
        if kind == "string":
            if not isinstance(value, str):
                raise ValueError
            return value
        if kind == "integer":
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, str):
                return int(value.strip())
            if isinstance(value, (int, np.integer)):
                return int(value)
            raise ValueError
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"
        raise ValueError
    except (TypeError, ValueError):
        raise InvalidArgument(f"parameter {pname} of {view} must be {_article(kind)} {kind}, got {value!r}") from None


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def query_subgraph(store: Store, name: str, params: dict) -> Subgraph:
    """Run the named view ``cypher/view_<name>.cypher`` (``name`` with or without ``view_``) and build its Subgraph.

    ``params`` must give every declared parameter without a default (``model``
    always); unknown ones are refused. See the module docstring for the contract.
    """
    view = _view_name(name)
    declared = view_parameters(view)
    known = {p.name for p in declared}
    unknown = sorted(set(params) - known)
    if unknown:
        raise InvalidArgument(
            f"view {view} takes no parameter {unknown[0]!r}; its parameters: {', '.join(p.name for p in declared)}"
        )
    values: dict[str, Any] = {}
    for p in declared:
        if p.name in params and params[p.name] is not None:
            values[p.name] = _convert(view, p.name, p.type, params[p.name])
        elif p.required:
            raise InvalidArgument(f"view {view} needs the parameter {p.name!r} ({p.type}); give it as {p.name}=VALUE")
    if "model" not in values:
        raise InvalidArgument(f"view {view} does not declare $model; every view takes the model name")
    props = store.require_model(values["model"])
    for p in declared:
        if p.name not in values:
            values[p.name] = p.default
            if p.name == "k":  # a default k the model cannot give becomes the model's k
                values["k"] = min(values["k"], int(props["k"]))
    k = check_stored_k(props, values["k"]) if "k" in values else min(DEFAULT_K, int(props["k"]))
    rows = store.read(view, **values)
    if len(rows) != 1 or set(rows[0]) != {"ids"} or not isinstance(rows[0]["ids"], list):
        raise InvalidArgument(f"{view} must return one row with one column, ids (the seed token ids)")
    shown = ", ".join(f"{p.name}={values[p.name]!r}" for p in declared if p.name != "model")
    subgraph = seeded_subgraph(store, values["model"], rows[0]["ids"], k, f"{view} {shown}".strip())
    if not subgraph.nodes:
        raise InvalidArgument(
            f"view {view} found no tokens in model {values['model']!r} for {shown or 'these parameters'}; check the parameters"
        )
    return subgraph
