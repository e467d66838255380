"""What :class:`atlas.Atlas` returns: small typed results that print as the CLI prints them, convert and save.

Every result has ``to_dict()`` (plain JSON-ready data, what the CLI's ``--json`` prints) and
``to_json()``. Tables (neighbours, tokens, hubs, models, a variant group, the rows of a
query) have ``to_pandas()`` (pandas is optional) and print as aligned text; a :class:`Graph`
converts with ``to_networkx()`` and saves in every export format; a :class:`Map` saves as the
offline page or parquet; every ``save()`` returns the files it wrote. The reports of a load,
an analysis and storing vectors print as one line. Token text is shown escaped, as on the
terminal.

In a notebook (``_repr_html_``) tables show as HTML tables, token text made visible as the
pages show it and cut after :data:`atlas.pages.notebook.MAX_ROWS` rows; a graph or the map
shows as its interactive offline page in an iframe (see :mod:`atlas.pages.notebook`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from atlas.core.records import Record
from atlas.core.subgraph import Edge, Node, Subgraph
from atlas.core.token_text import aligned_table, display_text, escape_controls, terminal_text
from atlas.errors import InvalidArgument

if TYPE_CHECKING:
    import numpy as np

    from atlas.core.vocabulary_map import VocabularyMap

Column = tuple[str, Callable[[dict], Any]]  # (header, cell of a row)


class _TextCell:
    """A cell of untrusted text (a token, a community label): quoted and escaped on a terminal, shown in HTML
    the way the pages show it (a token as its label, ``display_text``; a label with ``escape_controls``)."""

    def __init__(self, get: Callable[[dict], str], shown: Callable[[str], str] = display_text):
        self.get = get
        self.shown = shown

    def __call__(self, row: dict) -> str:
        return terminal_text(self.get(row))

    def html(self, row: dict) -> str:
        return self.shown(self.get(row))


def _label(get: Callable[[dict], str | None]) -> _TextCell:
    """A community label's cell; "-" where there is none."""
    return _TextCell(lambda row: get(row) or "-", escape_controls)


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _save(path: str, data: str | bytes) -> list[str]:
    """Write one page or file to ``path`` (``-``: stdout); the files written, as every ``save()`` returns them."""
    from atlas.files.output import STDOUT, write_output

    write_output(path, data.encode("utf-8") if isinstance(data, str) else data)
    return [] if path == STDOUT else [path]


class Table(Record):
    """Rows of dicts with a title; prints as an aligned table, converts to a list, JSON or a DataFrame."""

    rows: list[dict]

    def title(self) -> str:
        raise NotImplementedError

    def columns(self) -> list[Column]:
        raise NotImplementedError

    def text_rows(self) -> list[list[str]]:
        """The table's cells as text, escaped for a terminal."""
        return [[str(cell(row)) for _, cell in self.columns()] for row in self.rows]

    def headers(self) -> list[str]:
        return [header for header, _ in self.columns()]

    def html_rows(self) -> list[list[str]]:
        """The table's cells as they show in HTML: token text as on the pages (spaces as ``␣``), not yet escaped."""
        return [
            [
                cell.html(row) if isinstance(cell, (_TextCell, _ValueCell)) else str(cell(row))
                for _, cell in self.columns()
            ]
            for row in self.rows
        ]

    def _repr_html_(self) -> str:
        """The table in a notebook: HTML-escaped, cut after ``atlas.pages.notebook.MAX_ROWS`` rows with a line saying
        how many are hidden.

        >>> html = atlas.neighbours("cat", k=3)._repr_html_()
        >>> "<td>kitten</td>" in html, html.count("<tr>")
        (True, 4)
        """
        from atlas.pages.notebook import table_html

        return table_html(self.title(), self.headers(), self.html_rows())

    def to_dict(self) -> Any:
        return [dict(row) for row in self.rows]

    def to_pandas(self):
        """The rows as a pandas DataFrame (needs pandas: ``pip install pandas``).

        >>> atlas.neighbours("cat", k=3).to_pandas()[["rank", "text"]].values.tolist()
        [[1, 'cats'], [2, 'kitten'], [3, 'kitty']]
        """
        try:
            import pandas as pd
        except ImportError:
            raise InvalidArgument("to_pandas() needs pandas; install it with `pip install pandas`") from None
        return pd.DataFrame(self.to_dict())

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict]:
        return iter(self.rows)

    def __getitem__(self, index: int) -> dict:
        return self.rows[index]

    def __str__(self) -> str:
        return "\n".join([self.title(), *aligned_table(self.headers(), self.text_rows())])

    def __repr__(self) -> str:
        return str(self)


@dataclass(repr=False)
class Neighbours(Table):
    """A token's stored nearest tokens, best first: rows ``{id, text, score, rank, community}``."""

    model: str
    token: dict  # {id, text}
    rows: list[dict]
    analysed: bool  # the model has an analysis: rows name each token's community

    def title(self) -> str:
        return f"nearest tokens of {terminal_text(self.token['text'])} (id {self.token['id']}) in {escape_controls(self.model)}:"

    def columns(self) -> list[Column]:
        columns: list[Column] = [
            ("rank", lambda r: r["rank"]),
            ("id", lambda r: r["id"]),
            ("score", lambda r: f"{r['score']:.4f}"),
            ("token", _TextCell(lambda r: r["text"])),
        ]
        if self.analysed:
            columns.append(("community", _label(lambda r: r["community"])))
        return columns

    def texts(self) -> list[str]:
        """The neighbours' token texts, best first."""
        return [r["text"] for r in self.rows]


@dataclass(repr=False)
class Models(Table):
    """The stored models: rows ``{model: {name, status, k, ...}, tokens, edges, variants}``; ``problems`` after verify.

    A layer atlas's model has ``layer`` and ``method`` (how its hidden states were made); others have neither.
    """

    rows: list[dict]
    problems: dict[str, list[str]] | None = None  # model name -> what is wrong (empty: consistent); None: not verified
    loading: list[str] = field(default_factory=list)  # verified models left unchecked: a load is writing them now

    def title(self) -> str:
        return f"{len(self.rows)} stored models:"

    def columns(self) -> list[Column]:
        return [
            ("name", lambda m: escape_controls(m["model"]["name"])),
            ("status", lambda m: m["model"].get("status")),
            ("tokens", lambda m: f"{m['tokens']:,}"),
            ("edges", lambda m: f"{m['edges']:,}"),
            ("k", lambda m: m["model"].get("k")),
            ("dim", lambda m: m["model"].get("dim")),
            ("dtype", lambda m: m["model"].get("dtype")),
            ("layer", lambda m: _count(m["model"].get("layer"))),
            ("variant groups", lambda m: f"{m['variants']:,}"),
            ("analysis", lambda m: m["model"].get("analysis") or "-"),
            ("communities", lambda m: _count(m["model"].get("communities"))),
            ("hub skew", lambda m: _figure(m["model"].get("cited_skewness"))),
            ("untrained", lambda m: _count(m["model"].get("untrained_candidates"))),
            ("source", lambda m: escape_controls(str(m["model"].get("source")))),
        ]

    def names(self) -> list[str]:
        return [m["model"]["name"] for m in self.rows]

    def to_dict(self) -> Any:
        return [
            {
                "layer": None,
                "method": None,
                **r["model"],
                "tokens": r["tokens"],
                "edges": r["edges"],
                "variant_groups": r["variants"],
            }
            | ({"problems": self.problems.get(r["model"]["name"])} if self.problems is not None else {})
            | ({"loading": r["model"]["name"] in self.loading} if self.problems is not None else {})
            for r in self.rows
            if self.problems is None or r["model"]["name"] in self.problems or r["model"]["name"] in self.loading
        ]

    def inconsistent(self) -> list[str]:
        """The verified models with problems."""
        return [name for name, found in (self.problems or {}).items() if found]


@dataclass(repr=False)
class VariantGroup(Table):
    """The tokens of one variant group (``list``, `` list``, ``List``, ``_list``): rows ``{id, text, raw}``."""

    model: str
    key: str
    rows: list[dict]

    def title(self) -> str:
        return f"variant group {terminal_text(self.key)} of {escape_controls(self.model)}: {len(self.rows)} tokens"

    def columns(self) -> list[Column]:
        return [
            ("id", lambda t: t["id"]),
            ("token", _TextCell(lambda t: t["text"])),
            ("raw", _TextCell(lambda t: t["raw"])),
        ]

    def to_dict(self) -> Any:
        return {"key": self.key, "tokens": [dict(t) for t in self.rows]}


@dataclass(repr=False)
class TokenTable(Table):
    """The token table of a text: rows ``{position, id, token, first, last}`` (the row's first and last components)."""

    model: str
    text: str
    dim: int
    rows: list[dict]

    def title(self) -> str:
        return f"{len(self.rows)} tokens of {terminal_text(self.text)} in {escape_controls(self.model)} ({self.dim} dimensions):"

    def columns(self) -> list[Column]:
        def vector(r: dict) -> str:
            return ", ".join(f"{x:.6f}" for x in r["first"]) + " ... " + ", ".join(f"{x:.6f}" for x in r["last"])

        return [
            ("position", lambda r: r["position"]),
            ("id", lambda r: r["id"]),
            ("token", _TextCell(lambda r: r["token"])),
            (f"embedding vector ({self.dim} dimensions)", vector),
        ]

    def ids(self) -> list[int]:
        return [r["id"] for r in self.rows]


class _ValueCell:
    """A cell of whatever a Cypher statement returned: text as a label is shown, nothing as "-", anything else as
    Python writes it (a node as its properties), control characters made visible."""

    def __init__(self, key: str):
        self.key = key

    def __call__(self, row: dict) -> str:
        value = row.get(self.key)
        return terminal_text(value) if isinstance(value, str) else _written(value)

    def html(self, row: dict) -> str:
        value = row.get(self.key)
        return escape_controls(value) if isinstance(value, str) else _written(value)


def _written(value: Any) -> str:
    return "-" if value is None else escape_controls(str(value))


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it: lists, tuples (a point's coordinates) and maps walked, numbers, text, booleans and
    null kept, the rest (a date, a time) written as text."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


@dataclass(repr=False)
class Rows(Table):
    """What a Cypher statement returned (see :meth:`atlas.Atlas.query`): ``rows`` of dicts keyed by its ``keys``,
    the columns in the order the statement returns them. A node comes as a dict of its properties, a relationship
    as ``(start, type, end)``; ``to_pandas()`` keeps every value as the driver gave it, ``to_dict()`` writes
    dates and times as text and a point as its coordinates.

    >>> found = atlas.query("MATCH (m:Model {name: $name}) RETURN m.name AS name, m.k AS k", name=model)
    >>> found.keys, found.to_dict() == [{"name": model, "k": 20}]
    (['name', 'k'], True)
    """

    statement: str
    keys: list[str]
    rows: list[dict]

    def title(self) -> str:
        return f"{len(self.rows):,} {'row' if len(self.rows) == 1 else 'rows'}:"

    def columns(self) -> list[Column]:
        return [(key, _ValueCell(key)) for key in self.keys]

    def to_dict(self) -> Any:
        return [{key: _plain(row.get(key)) for key in self.keys} for row in self.rows]

    def to_pandas(self):
        """The rows as a pandas DataFrame with the statement's columns, values as the driver gave them (needs pandas).

        >>> atlas.query("MATCH (m:Model {name: $name}) RETURN m.k AS k, m.dim AS dim", name=model).to_pandas().values.tolist()
        [[20, 384]]
        """
        try:
            import pandas as pd
        except ImportError:
            raise InvalidArgument("to_pandas() needs pandas; install it with `pip install pandas`") from None
        return pd.DataFrame(self.rows, columns=self.keys)


_MEASURE_NAMES = {"pagerank": "PageRank", "core": "k-core number", "clustering": "local clustering coefficient"}


@dataclass(repr=False)
class Hubs(Table):
    """The hubs of an analysed model: rows ``{id, text, special, cited, community, label}``, ranked by ``by``
    (``cited``, the in-degree, or one of ``pagerank``, ``core``, ``clustering``, which the rows then hold too)."""

    model: str
    k: int
    skewness: float | None  # of the in-degree distribution
    rows: list[dict]
    by: str = "cited"

    def title(self) -> str:
        if self.by != "cited":
            ranked = _MEASURE_NAMES[self.by]
            return (
                f"the {len(self.rows)} tokens of {escape_controls(self.model)} with the highest {ranked} (k={self.k}):"
            )
        return (
            f"the {len(self.rows)} most-cited tokens of {escape_controls(self.model)} (k={self.k}; "
            f"in-degree skewness {_figure(self.skewness)}):"
        )

    def columns(self) -> list[Column]:
        measure: list[Column] = []
        if self.by == "pagerank":
            measure = [("pagerank", lambda r: f"{r['pagerank']:.3g}")]
        elif self.by == "core":
            measure = [("core", lambda r: f"{r['core']:,}")]
        elif self.by == "clustering":
            measure = [("clustering", lambda r: f"{r['clustering']:.3f}")]
        return [
            *measure,
            ("cited", lambda r: f"{r['cited']:,}"),
            ("id", lambda r: r["id"]),
            ("token", _TextCell(lambda r: r["text"])),
            ("community", _label(lambda r: r["label"])),
        ]


@dataclass(repr=False)
class Graph(Record):
    """A subgraph (prompt, atlas, named view, expression): token nodes and scored SIMILAR_TO edges.

    ``missing`` lists the words of an atlas that are not single tokens; ``saved`` is the
    Browser query of a saved prompt.
    """

    subgraph: Subgraph
    missing: list[str] = field(default_factory=list)
    saved: str | None = None

    @property
    def model(self) -> str:
        return self.subgraph.model

    def title(self) -> str:
        """What the subgraph shows, e.g. ``prompt 'the cat sat'`` or ``atlas of 5 random words (seed 7), k=3``."""
        return self.subgraph.title

    @property
    def nodes(self) -> list[Node]:
        return self.subgraph.nodes

    @property
    def edges(self) -> list[Edge]:
        return self.subgraph.edges

    def render(self, format: str) -> dict[str, str]:
        """The export's text: ``{"": text}``, or for csv ``{"nodes": ..., "edges": ...}``."""
        from atlas.pages.export import render

        return render(self.subgraph, format)

    def save(self, path: str, format: str = "html", stdout=None) -> list[str]:
        """Write the graph as ``html``, ``graphml``, ``json``, ``csv`` or ``cypher`` to ``path`` (``-``: ``stdout``).

        Returns the files written, as every result's ``save()`` does: none for stdout, two for csv
        (PATH.nodes.csv and PATH.edges.csv).

        >>> graph = atlas.prompt("the cat sat", k=3)
        >>> graph.save(str(folder / "prompt.graphml"), "graphml") == [str(folder / "prompt.graphml")]
        True
        >>> [p.name for p in sorted(folder.glob("prompt.*"))]
        ['prompt.graphml']
        """
        from atlas.pages.export import write

        return write(self.subgraph, format, path, stdout=stdout)

    def to_dict(self) -> Any:
        """The JSON export as data, in networkx's node-link form: ``{directed, multigraph, graph, nodes, links}``.

        >>> data = atlas.near("king - man + woman", k=3, graph=True).graph.to_dict()
        >>> sorted(data), len(data["nodes"])
        (['directed', 'graph', 'links', 'multigraph', 'nodes'], 4)
        """
        return json.loads(self.render("json")[""])

    def to_networkx(self):
        """A ``networkx.DiGraph``: nodes by token id with their fields, edges with ``score`` and ``rank``.

        >>> graph = atlas.prompt("the cat sat", k=3).to_networkx()
        >>> graph.number_of_nodes(), graph.number_of_edges(), graph.nodes[4937]["text"]
        (12, 36, 'cat')
        """
        try:
            import networkx as nx
        except ImportError:
            raise InvalidArgument("to_networkx() needs networkx; install it with `pip install networkx`") from None
        graph = nx.DiGraph(model=self.model, title=self.title())
        for node in self.nodes:
            graph.add_node(node.id, **{k: v for k, v in asdict(node).items() if k != "id"})
        for edge in self.edges:
            graph.add_edge(edge.source, edge.target, score=edge.score, rank=edge.rank)
        return graph

    def table_rows(self) -> list[list[str]]:
        """Each edge as ``[source, rank, score, target]`` text, escaped for a terminal."""
        texts = {n.id: n.text for n in self.nodes}
        return [
            [terminal_text(texts[e.source]), str(e.rank), f"{e.score:.4f}", terminal_text(texts[e.target])]
            for e in self.edges
        ]

    def summary(self) -> str:
        return f"{escape_controls(self.title())}: {len(self.nodes)} tokens, {len(self.edges)} edges"

    def _repr_html_(self) -> str:
        """The graph in a notebook: the interactive page of ``save(path, "html")`` in a sandboxed iframe's ``srcdoc``.

        Nothing is fetched (the page inlines its data and force-graph), and each graph is a
        document of its own, so several in one notebook do not interfere.

        >>> frame = atlas.prompt("the cat sat", k=3)._repr_html_()
        >>> frame.startswith('<iframe class="atlas-page"'), "http" in frame.split("srcdoc=")[0]
        (True, False)
        """
        from atlas.pages.notebook import page_iframe

        return page_iframe(self.render("html")[""], self.summary())

    def __repr__(self) -> str:
        return "\n".join([self.summary(), *aligned_table(["source", "rank", "score", "target"], self.table_rows())])


@dataclass(repr=False)
class Nearest(Table):
    """The tokens nearest to an expression (``king - man + woman``): rows ``{rank, id, text, score}``, best first.

    ``operands`` are the expression's terms with the tokens they stand for; ``left_out``
    the operands' token ids left out of the answer; ``graph`` the answer as a subgraph
    when it was asked for.
    """

    model: str
    expression: str
    operands: list[dict]  # [{text, weight, quoted, tokens: [{id, text}]}]
    left_out: list[int]
    rows: list[dict]
    compared: int  # matrix rows scored
    seconds: float
    graph: Graph | None = None

    def title(self) -> str:
        operands = ", ".join(terminal_text(t["text"]) for o in self.operands for t in o["tokens"])
        kept = (
            f"the operands ({operands}) are left out, keep_operands=True (--keep-operands) keeps them"
            if self.left_out
            else f"the operands ({operands}) are kept"
        )
        return (
            f"nearest tokens to {terminal_text(self.expression)} in {escape_controls(self.model)} "
            f"({self.compared:,} rows compared in {self.seconds:.2f} s; {kept}):"
        )

    def columns(self) -> list[Column]:
        return [
            ("rank", lambda r: r["rank"]),
            ("id", lambda r: r["id"]),
            ("score", lambda r: f"{r['score']:.4f}"),
            ("token", _TextCell(lambda r: r["text"])),
        ]

    def texts(self) -> list[str]:
        return [r["text"] for r in self.rows]

    def to_dict(self) -> Any:
        return {
            "model": self.model,
            "expression": self.expression,
            "operands": self.operands,
            "left_out": self.left_out,
            "neighbours": [dict(r) for r in self.rows],
        }


@dataclass(repr=False)
class Map(Record):
    """The whole-vocabulary map of an analysed model: every token with its position, community and neighbours."""

    map: VocabularyMap

    def render(self, format: str = "html") -> bytes:
        """The offline page (``html``) or the parquet file for embedding-atlas (``parquet``), as bytes.

        >>> atlas.map().render("parquet")[:4]
        b'PAR1'
        """
        from atlas.pages.map_page import render

        return render(self.map, format)

    def save(self, path: str, format: str = "html") -> list[str]:
        """Write the map to ``path`` (``-``: stdout); returns the files written (none for stdout), as :meth:`Graph.save`."""
        return _save(path, self.render(format))

    def to_dict(self) -> Any:
        vmap = self.map
        return {
            "model": vmap.model,
            "tokens": [
                {"id": int(i), "text": t, "x": float(x), "y": float(y), "community": int(c), "cited": int(n)}
                for i, t, x, y, c, n in zip(vmap.ids, vmap.text, vmap.x, vmap.y, vmap.community, vmap.cited)
            ],
            "communities": [asdict(c) for c in vmap.communities],
        }

    def to_pandas(self):
        """One row per token: id, text, x, y, community, cited (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise InvalidArgument("to_pandas() needs pandas; install it with `pip install pandas`") from None
        return pd.DataFrame(self.to_dict()["tokens"])

    def __len__(self) -> int:
        return len(self.map.ids)

    def __repr__(self) -> str:
        return (
            f"map of {escape_controls(self.map.model)}: {len(self):,} tokens, {len(self.map.communities):,} communities"
        )

    def _repr_html_(self) -> str:
        """The map in a notebook: the offline page of ``save()`` in a sandboxed iframe's ``srcdoc``, nothing fetched.

        A page above ``atlas.pages.notebook.INLINE_LIMIT`` (8 MiB) is not inlined: the notebook
        would carry it in its file and the browser parse it for every view, which makes the
        notebook slow to open and scroll. MiniLM's 30,522 tokens make a page of about 3.5 MB and
        show inline; a 150,000-token vocabulary (about 18 MB) shows one line with the page's
        size instead, telling to ``save("map.html")`` and open the file in a browser.

        >>> atlas.map()._repr_html_().startswith('<iframe class="atlas-page"')
        True
        """
        from atlas.pages.notebook import MAP_HEIGHT, page_iframe

        return page_iframe(self.render("html").decode("utf-8"), repr(self), MAP_HEIGHT, file_name="map.html")


@dataclass(frozen=True, repr=False)
class VectorsReport(Record):
    """What storing a model's vectors did (see :meth:`atlas.Atlas.vectors`): how many tokens got a vector, how many
    have none (a zero row), the vector index's name, and what could not be checked before writing (``notes``)."""

    name: str
    stored: int  # tokens given a vector
    zero: int  # tokens left without one (a zero row)
    index: str
    seconds: float
    skipped: bool  # the model's vectors were complete already
    notes: tuple[str, ...] = ()  # what could not be checked before writing

    def __repr__(self) -> str:
        if self.skipped:
            return f"the vectors of {self.name!r} are stored already (vector index {self.index}); nothing to do"
        zero = f" ({self.zero:,} zero rows have none)" if self.zero else ""
        return (
            f"stored {self.stored:,} vectors of {self.name!r}{zero} and the vector index {self.index} "
            f"in {self.seconds:.1f} s"
        )


@dataclass(frozen=True, repr=False)
class AnalysisReport(Record):
    """What an analysis stored (see :meth:`atlas.Atlas.analyse`): the communities found among the model's tokens,
    their modularity, and the skewness of the in-degree distribution (how much a few hubs dominate)."""

    name: str
    tokens: int
    communities: int
    modularity: float
    cited_skewness: float
    seconds: float

    def __repr__(self) -> str:
        return (
            f"analysed {self.name!r}: {self.tokens:,} tokens in {self.communities:,} communities "
            f"(modularity {self.modularity:.3f}), in-degree skewness {self.cited_skewness:.2f}, in {self.seconds:.1f} s"
        )


@dataclass(frozen=True, repr=False)
class LoadReport(Record):
    """What a load stored: tokens, SIMILAR_TO edges, tokens in variant groups, where the neighbours were computed,
    and, when asked for, how many communities the analysis found and what storing the vectors did."""

    name: str
    tokens: int
    edges: int
    variants: int
    skipped: bool  # the same model was already complete: nothing was written
    seconds: float
    device: str  # where the neighbours were computed
    communities: int | None = None  # None: no analysis ran
    vectors: VectorsReport | None = None  # None: no vectors were asked for

    def __repr__(self) -> str:
        if self.skipped:
            return f"model {self.name!r} is already loaded with these settings; nothing to do"
        return (
            f"stored {self.name!r}: {self.tokens:,} tokens, {self.edges:,} SIMILAR_TO edges, "
            f"{self.variants:,} tokens in variant groups, in {self.seconds:.1f} s ({self.device})"
        )


@dataclass(repr=False)
class Loaded(Record):
    """What a load did (``report``), and where to look at it: the Browser's address and a query to paste there."""

    report: LoadReport
    browser_url: str | None
    browser_query: str

    def __repr__(self) -> str:
        return repr(self.report)


@dataclass(repr=False)
class Deleted(Record):
    """A deleted model: its name and how many nodes went."""

    name: str
    nodes: int
    seconds: float

    def __repr__(self) -> str:
        return f"deleted {self.name!r}: {self.nodes:,} nodes in {self.seconds:.1f} s"


@dataclass(repr=False)
class Comparison(Record):
    """Two stored models compared (see :meth:`atlas.Atlas.compare`): how many tokens matched and how, how alike each
    token's ``k`` nearest are in both (Jaccard, rank-biased overlap), the tokens that changed most and least, and which
    communities held together.

    ``figures`` are what the graph's Comparison node holds; ``pairs`` every matched token as columns
    (``to_pandas()``; left out of ``to_dict()``); ``page`` one token's two neighbourhoods when one was asked for.
    """

    a: str
    b: str
    k: int
    figures: dict
    changed_most: list[dict]
    changed_least: list[dict]
    unmatched_a: dict  # {count, tokens: [{id, text}]}
    unmatched_b: dict
    communities: list[dict] | None  # None: a model has no analysis
    analysed: dict[str, bool]
    pairs: dict[str, list]
    page: dict | None
    browser_query: str

    def to_dict(self) -> Any:
        return {
            "a": self.a,
            "b": self.b,
            "k": self.k,
            **self.figures,
            "changed_most": self.changed_most,
            "changed_least": self.changed_least,
            "unmatched_a_examples": self.unmatched_a["tokens"],
            "unmatched_b_examples": self.unmatched_b["tokens"],
            "communities": self.communities,
        }

    def to_pandas(self):
        """One row per matched token: a_id, b_id, text_a, text_b, matched_by, jaccard, rbo (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise InvalidArgument("to_pandas() needs pandas; install it with `pip install pandas`") from None
        return pd.DataFrame(self.pairs)

    def render_page(self) -> str:
        """The page of the token asked for: its two neighbourhoods side by side (one offline HTML document)."""
        if self.page is None:
            raise InvalidArgument("no token was asked for; give token=... (--token) to draw its two neighbourhoods")
        from atlas.pages.compare_page import render_page

        return render_page(self.page)

    def save(self, path: str) -> list[str]:
        """Write the token's page to ``path`` (``-``: stdout); returns the files written (none for stdout)."""
        return _save(path, self.render_page())

    def title(self) -> str:
        f = self.figures
        return (
            f"{escape_controls(self.a)} against {escape_controls(self.b)}, the {self.k} nearest tokens "
            f"(rank-biased overlap p={f['p']}, extrapolated): {f['matched']:,} tokens matched "
            f"({f['matched_by_id']:,} by id, {f['matched_by_text']:,} by text, {f['matched_by_variant']:,} by variant key)"
        )

    def sections(self) -> list[str]:
        """The summary as text blocks, escaped for a terminal."""
        f = self.figures
        cut = [f"{i / 10:.1f}" for i in range(11)]
        blocks = [
            self.title(),
            "\n".join(
                aligned_table(
                    ["overlap", "mean", "median", *[f"p{10 * i}" for i in range(11)]],
                    [
                        [name, f"{f[f'mean_{name}']:.3f}", f"{f[f'median_{name}']:.3f}"]
                        + [f"{v:.2f}" for v in f[f"{name}_deciles"]]
                        for name in ("jaccard", "rbo")
                    ],
                )
            ),
            "how many tokens in each band of overlap:\n"
            + "\n".join(
                aligned_table(
                    ["band", "jaccard", "rbo"],
                    [
                        [f"{cut[i]}-{cut[i + 1]}", f"{j:,}", f"{r:,}"]
                        for i, (j, r) in enumerate(zip(f["jaccard_histogram"], f["rbo_histogram"]))
                    ],
                )
            ),
        ]
        for name, rows in (("most", self.changed_most), ("least", self.changed_least)):
            blocks.append(
                f"the tokens whose nearest tokens changed {name} (special tokens left out):\n"
                + "\n".join(
                    aligned_table(
                        ["jaccard", "rbo", "id", "token", f"in {escape_controls(self.b)}", "matched by"],
                        [
                            [
                                f"{r['jaccard']:.3f}",
                                f"{r['rbo']:.3f}",
                                str(r["id_a"]),
                                terminal_text(r["text_a"]),
                                terminal_text(r["text_b"]) if r["text_b"] != r["text_a"] else "same",
                                r["matched_by"],
                            ]
                            for r in rows
                        ],
                    )
                )
            )
        for model, left in ((self.a, self.unmatched_a), (self.b, self.unmatched_b)):
            shown = ", ".join(terminal_text(t["text"]) for t in left["tokens"])
            blocks.append(
                f"unmatched tokens of {escape_controls(model)}: {left['count']:,}"
                + (f", e.g. {shown}" if shown else "")
            )
        if self.communities is None:
            missing = [name for name, done in self.analysed.items() if not done]
            blocks.append(
                "communities: not compared, "
                + " and ".join(escape_controls(m) for m in missing)
                + " has no analysis (run `atlas analyse --model NAME`)"
            )
        else:
            share = f["held_together"]
            blocks.append(
                f"communities of {escape_controls(self.a)} and the share of their members in one community of "
                f"{escape_controls(self.b)} (all communities: {'-' if share is None else f'{share:.1%}'}):\n"
                + "\n".join(
                    aligned_table(
                        ["community", "members", "share", f"most in {escape_controls(self.b)}"],
                        [
                            [
                                escape_controls(r["label"] or str(r["community"])),
                                f"{r['members']:,}",
                                f"{r['share']:.1%}",
                                escape_controls(r["b_label"] or str(r["b_community"])),
                            ]
                            for r in self.communities
                        ],
                    )
                )
            )
        return blocks

    def __str__(self) -> str:
        return "\n\n".join(self.sections())

    def __repr__(self) -> str:
        return str(self)


def _near_list(rows: list[dict], count: int, key: str = "score") -> str:
    """A few tokens with their scores on one line, each token quoted and escaped for a terminal."""
    return "  ".join(f"{terminal_text(r['text'])} {r[key]:.2f}" for r in rows[:count])


@dataclass(repr=False)
class Context(Record):
    """A word through the layers: each state's nearest static tokens, per text and layer, and how texts differ.

    ``texts`` holds, per text, its ``tokens`` (position, id, text, special), the ``occurrences`` of ``word``
    (positions of its pieces) and ``states``: one row per reported token and layer with ``own_cosine``
    (to the token's own input-embedding row), ``nearest`` ([{rank, id, text, score}] by exact cosine
    over the whole vocabulary) and, where a layer atlas ``<model>@<L>`` is stored, ``atlas``: with its vectors
    stored, the nearest tokens of the state among them (``atlas_by`` "state"), else its stored neighbours of the
    token's own id (``atlas_by`` "token"). ``comparisons`` (a word in two or more texts): per pair and layer,
    the ``cosine`` between the word's states and the tokens ``toward_a`` / ``toward_b`` whose cosine to one
    state minus their cosine to the other is largest. ``seconds`` per text, after the model was read. ``vectors``
    (left out of ``to_dict()``): per text, the hidden states themselves, one row per entry of its ``states``.
    """

    model: str
    word: str | None
    k: int
    layers: list[int]
    model_layers: int
    texts: list[dict]
    comparisons: list[dict]
    seconds: list[float]
    layer_atlas: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    saved: str | None = None  # the Browser query of the saved states, when they were saved
    page: str | None = None  # the offline page, when it was asked for
    vectors: list[np.ndarray] = field(default_factory=list)  # per text: (entries, d) float32

    SHOWN = 8  # nearest tokens per printed line

    def title(self) -> str:
        what = f"{terminal_text(self.word)}" if self.word is not None else "each token"
        per_text = sum(self.seconds) / max(1, len(self.seconds))
        return (
            f"{what} through the layers of {escape_controls(self.model)} ({self.model_layers} layers), k={self.k}: "
            f"cosine to its own static row, then its nearest static tokens ({per_text:.2f} s per text):"
        )

    def lines(self) -> list[str]:
        """What the CLI prints on stdout: per text, per reported token, one line per layer."""
        out: list[str] = []
        for n, text in enumerate(self.texts, start=1):
            out.append(f"text {n}: {terminal_text(text['text'])}")
            for position in dict.fromkeys(e["position"] for e in text["states"]):
                entries = [e for e in text["states"] if e["position"] == position]
                out.append(f"  {terminal_text(entries[0]['token'])} (position {position})")
                rows = []
                for e in entries:
                    rows.append([str(e["layer"]), f"{e['own_cosine']:.2f}", _near_list(e["nearest"], self.SHOWN)])
                    if "atlas" in e:
                        rows.append(["", f"@{e['layer']}", _near_list(e["atlas"], self.SHOWN)])
                out.extend("    " + line for line in aligned_table(["layer", "own", "nearest"], rows))
        for pair in dict.fromkeys((c["a"], c["b"]) for c in self.comparisons):
            a, b = pair
            out.append(f"{terminal_text(self.word or '')} in text {a + 1} vs text {b + 1}:")
            rows = [
                [
                    str(c["layer"]),
                    f"{c['cosine']:.2f}",
                    _near_list(c["toward_a"], 4, "gap"),
                    _near_list(c["toward_b"], 4, "gap"),
                ]
                for c in self.comparisons
                if (c["a"], c["b"]) == pair
            ]
            headers = ["layer", "cosine", f"toward text {a + 1}", f"toward text {b + 1}"]
            out.extend("    " + line for line in aligned_table(headers, rows))
        return out

    def __str__(self) -> str:
        return "\n".join([self.title(), *self.lines()])

    def __repr__(self) -> str:
        return str(self)

    def to_dict(self) -> Any:
        return {
            "model": self.model,
            "word": self.word,
            "k": self.k,
            "layers": self.layers,
            "model_layers": self.model_layers,
            "texts": self.texts,
            "comparisons": self.comparisons,
            "layer_atlas": self.layer_atlas,
            "notes": self.notes,
            "seconds": self.seconds,
        }

    def to_pandas(self):
        """One row per text, token, layer and neighbour: text, position, token, layer, own_cosine, rank, id, neighbour, score."""
        try:
            import pandas as pd
        except ImportError:
            raise InvalidArgument("to_pandas() needs pandas; install it with `pip install pandas`") from None
        return pd.DataFrame(
            [
                {
                    "text": t["text"],
                    "position": e["position"],
                    "token": e["token"],
                    "layer": e["layer"],
                    "own_cosine": e["own_cosine"],
                    "rank": n["rank"],
                    "id": n["id"],
                    "neighbour": n["text"],
                    "score": n["score"],
                }
                for t in self.texts
                for e in t["states"]
                for n in e["nearest"]
            ]
        )

    def save(self, path: str) -> list[str]:
        """Write the offline page (asked for with ``page=True``) to ``path`` (``-``: stdout); returns the files written
        (none for stdout)."""
        if self.page is None:
            raise InvalidArgument("this result has no page; ask for it with atlas.context(..., page=True)")
        return _save(path, self.page)

    def _repr_html_(self) -> str:
        if self.page is not None:
            from atlas.pages.notebook import page_iframe

            return page_iframe(self.page, self.title(), file_name="context.html")
        import html

        return f"<pre>{html.escape(str(self))}</pre>"


_CATEGORY_NAMES = {
    "reachable": "reachable",
    "unreachable_one": "unreachable (one other token)",
    "unreachable_several": "unreachable (several tokens)",
    "undecodable": "undecodable (partial UTF-8)",
    "special": "special",
}


@dataclass
class RepeatCheck(Record):
    """The model asked to repeat each of the highest-scoring candidates: the ``prompt`` (``{token}`` where the
    candidate went), its ``style`` (``chat template`` or ``plain``) and the checked ``tokens``, best score first,
    ``{id, text, category, score, cited, repeat_probability}``; a low probability confirms a candidate."""

    prompt: str
    style: str
    tokens: list[dict]

    def confirmed(self, below: float = 0.01) -> list[dict]:
        """The checked tokens the model gave a probability under ``below``: confirmed as under-trained."""
        return [t for t in self.tokens if t["repeat_probability"] < below]


def _probability(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


@dataclass(repr=False)
class Untrained(Table):
    """Under-trained candidates of a model (see :mod:`atlas.core.untrained`): the ``rows`` with the highest scores,
    ``{id, text, category, score, cited, repeat_probability}`` (``cited``: the in-degree, None before an analysis;
    ``repeat_probability``: None unless a repeat check gave one), and what the run stored: the count of tokens in
    each round-trip ``categories``, the ``reference`` (how it was chosen: ``given``, ``declared`` or
    ``unreachable``) and its size, the candidate ``threshold``, the number of ``candidates`` and, when the model
    was asked to repeat the highest ones, the ``repeat`` check."""

    model: str
    categories: dict[str, int]
    reference: str
    reference_size: int
    threshold: float
    candidates: int
    rows: list[dict]
    repeat: RepeatCheck | None = None

    def title(self) -> str:
        counts = ", ".join(f"{_CATEGORY_NAMES[k]} {n:,}" for k, n in self.categories.items())
        lines = [
            f"tokens of {escape_controls(self.model)}: {counts}",
            f"reference: {self.reference_size:,} {self.reference} tokens; {self.candidates:,} under-trained candidates "
            f"(score >= {self.threshold:.4f}, the top 2% of reachable tokens' scores)",
        ]
        if self.repeat is not None:
            checked = len(self.repeat.tokens)
            lines.append(
                f"asked the model to repeat the {checked:,} highest ({self.repeat.style} prompt): "
                f"{len(self.repeat.confirmed()):,} got a probability under 1% (confirmed under-trained)"
            )
        return "\n".join(lines) + f"; the {len(self.rows)} highest:"

    def columns(self) -> list[Column]:
        columns: list[Column] = [
            ("score", lambda r: f"{r['score']:.4f}"),
            ("id", lambda r: r["id"]),
            ("token", _TextCell(lambda r: r["text"])),
            ("category", lambda r: r["category"]),
            ("cited", lambda r: _count(r["cited"])),
        ]
        if any(r.get("repeat_probability") is not None for r in self.rows):
            columns.append(("repeat", lambda r: _probability(r.get("repeat_probability"))))
        return columns

    def ids(self) -> list[int]:
        return [r["id"] for r in self.rows]

    def to_dict(self) -> Any:
        return {
            "model": self.model,
            "categories": dict(self.categories),
            "reference": self.reference,
            "reference_size": self.reference_size,
            "threshold": self.threshold,
            "candidates": self.candidates,
            "tokens": [dict(r) for r in self.rows],
            "repeat": None if self.repeat is None else self.repeat.to_dict(),
        }

    def to_pandas(self):
        """The candidate rows as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError:
            raise InvalidArgument("to_pandas() needs pandas; install it with `pip install pandas`") from None
        return pd.DataFrame([dict(r) for r in self.rows])
