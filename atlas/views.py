"""Views of a stored model: token look-ups, neighbour lists, variant groups and subgraphs.

Every view reads Neo4j through ``Store.read`` with a statement from ``cypher/`` and
values as parameters; the subgraph views (prompt, atlas, named queries) all produce a
:class:`~atlas.subgraph.Subgraph`, ordered (nodes by id, edges by source, rank,
target) so the same inputs give byte-identical exports.

Named queries
-------------
A file ``cypher/view_<name>.cypher`` is a view users can export with
:func:`query_subgraph`. Its contract:

- the header has a line ``// Parameters: $model (string), $text (string), $k (integer, default 10).``
  naming every parameter the statement uses, each with a type (``string``,
  ``integer``, ``float`` or ``boolean``) and optionally a default; ``$model`` is always
  one of them. Values given as strings (from a command line) are converted to the
  declared type; a parameter named ``k`` must lie in 1..the model's k.
- it returns one or more rows with two columns: ``nodes``, a list of maps with
  ``id`` and ``text`` and optionally ``raw``, ``special``, ``variant``, ``seed``;
  and ``edges``, a list of maps ``source``, ``target`` (token ids), ``score``, ``rank``.
  Rows are merged: a node is kept once (a seed if any row says so), an edge once per
  (source, target); every edge must end at returned nodes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any, Iterable, Sequence

import numpy as np

from atlas.errors import InvalidArgument, TokenNotFound
from atlas.export import cypher_string
from atlas.prompt import PromptToken
from atlas.queries import header, names, query
from atlas.store import Store
from atlas.subgraph import Edge, Node, Subgraph
from atlas.variants import variant_key

SUGGESTIONS = 8  # close tokens named when a typed token is not in the vocabulary
MIN_WORD_LENGTH = 2  # letters in a random atlas word
SPACE_FAMILIES = ("byte_bpe", "sentencepiece")  # families whose word-start pieces begin with a space
VIEW_PREFIX = "view_"
PARAM_TYPES = ("string", "integer", "float", "boolean")


# --- tokens -----------------------------------------------------------------------------------


def typed_key(text: str, family: str) -> str | None:
    """The variant key of text a user typed (readable text, not a tokenizer piece).

    The same rules as :func:`atlas.variants.variant_key`, without mapping a piece's
    byte alphabet: a typed "é" is the letter, not the byte-level BPE character for 0xE9.

    >>> typed_key(" List", "byte_bpe"), typed_key("##list", "wordpiece"), typed_key("Straße", "sentencepiece")
    ('list', 'list', 'strasse')
    """
    return variant_key(text, "wordpiece" if family == "wordpiece" else "other")


def find_token(store: Store, model: str, text: str) -> dict:
    """The token whose text is exactly ``text`` (the lowest id if several): ``{id, text, raw, special}``.

    Raises TokenNotFound naming close tokens: first those of the same variant group,
    then those whose trimmed, lower-cased text starts with the typed text's.
    """
    props = store.require_model(model)
    rows = store.read("tokens_by_text", model=model, text=text)
    if rows:
        return _token(rows[0])
    close = _suggestions(store, model, props.get("family", "other"), text)
    if close:
        listed = ", ".join(repr(t) for t in close)
        raise TokenNotFound(
            f"token {text!r} is not in the vocabulary of {model}; close tokens: {listed} (use one of them, or --id)"
        )
    raise TokenNotFound(
        f"token {text!r} is not in the vocabulary of {model} and no token is close; check the spelling, or give --id"
    )


def find_token_by_id(store: Store, model: str, token_id: int) -> dict:
    """The token with id ``token_id``: ``{id, text, raw, special}``; TokenNotFound if the model has none."""
    props = store.require_model(model)
    rows = store.read("tokens_by_id", model=model, ids=[int(token_id)])
    if not rows:
        raise TokenNotFound(
            f"token id {token_id} is not in model {model} (it has {props.get('vocab_size', '?')} tokens); "
            "look the token up by its text instead"
        )
    return _token(rows[0])


def _suggestions(store: Store, model: str, family: str, text: str) -> list[str]:
    found: list[str] = []
    key = typed_key(text, family)
    if key is not None:
        found += [r["text"] for r in store.read("variant_tokens", model=model, key=key)]
    prefix = text.strip().lower()
    if prefix:
        found += [r["text"] for r in store.read("tokens_like", model=model, prefix=prefix, limit=SUGGESTIONS)]
    return list(dict.fromkeys(found))[:SUGGESTIONS]


def _token(row: dict) -> dict:
    return {"id": row["id"], "text": row["text"], "raw": row["raw"], "special": bool(row["special"])}


def check_stored_k(props: dict, k: Any) -> int:
    """``k`` as an int in 1..the model's k, else InvalidArgument naming the model's k."""
    model_k = int(props["k"])
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= model_k:
        raise InvalidArgument(
            f"k must be between 1 and {model_k} (model {props['name']!r} was loaded with k={model_k}), got {k!r}"
        )
    return int(k)


def _require_ids(store: Store, model: str, ids: Iterable[int], what: str = "token id") -> dict[int, dict]:
    """The stored tokens of ``ids``; TokenNotFound for the first one missing."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    rows = {r["id"]: r for r in store.read("tokens_by_id", model=model, ids=wanted)}
    missing = [i for i in wanted if i not in rows]
    if missing:
        raise TokenNotFound(
            f"{what} {missing[0]} is not stored in model {model!r}"
            + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
            + "; was the model loaded from the same tokenizer?"
        )
    return rows


# --- neighbour lists and variant groups -------------------------------------------------------


def neighbours(store: Store, model: str, token_id: int, k: int, collapse_variants: bool = False) -> list[dict]:
    """The ``k`` nearest tokens of ``token_id``, best first: ``[{id, text, score, rank}]``.

    ``rank`` is the stored rank (1 = nearest). With ``collapse_variants``, neighbours
    in the token's own variant group are dropped and only the best-ranked token of
    each other group is kept, from all the stored neighbours; the first ``k`` of those
    are returned (fewer when the stored neighbours hold fewer groups), with their
    stored ranks.
    """
    props = store.require_model(model)
    k = check_stored_k(props, k)
    _require_ids(store, model, [token_id])
    if not collapse_variants:
        rows = store.read("neighbours", model=model, id=int(token_id), k=k)
        return [_neighbour(r) for r in rows]
    rows = store.read("variant_neighbours", model=model, id=int(token_id))
    return [_neighbour(r) for r in collapse_neighbours(rows)[:k]]


def collapse_neighbours(rows: Sequence[dict]) -> list[dict]:
    """Neighbour rows (best first, each with ``key`` and ``own_key``) without the query token's group, one per group.

    Rows without a key stand for themselves.

    >>> rows = [{"id": 2, "key": "list", "own_key": "list"}, {"id": 5, "key": "lists", "own_key": "list"},
    ...         {"id": 7, "key": "lists", "own_key": "list"}, {"id": 9, "key": None, "own_key": "list"}]
    >>> [r["id"] for r in collapse_neighbours(rows)]
    [5, 9]
    """
    seen: set[str] = set()
    kept = []
    for row in rows:
        key = row["key"]
        if key is not None and (key == row["own_key"] or key in seen):
            continue
        if key is not None:
            seen.add(key)
        kept.append(row)
    return kept


def _neighbour(row: dict) -> dict:
    return {"id": row["id"], "text": row["text"], "score": row["score"], "rank": row["rank"]}


def variant_group(store: Store, model: str, word: str) -> dict:
    """The variant group ``word`` belongs to: ``{key, tokens: [{id, text, raw}]}``, tokens by id.

    The key is computed from ``word`` with the model's tokenizer family, so "list",
    "List" and " list" all name the group with key "list".
    """
    props = store.require_model(model)
    key = typed_key(word, props.get("family", "other"))
    if key is None:
        raise InvalidArgument(f"{word!r} has no variant key (it is only whitespace); give a word")
    rows = store.read("variant_tokens", model=model, key=key)
    if not rows:
        close = [r["text"] for r in store.read("tokens_like", model=model, prefix=key, limit=SUGGESTIONS)]
        hint = f"; close tokens: {', '.join(repr(t) for t in close)}" if close else "; check the spelling"
        raise TokenNotFound(f"no token of {model} spells {word!r} (variant key {key!r}){hint}")
    return {"key": key, "tokens": [{"id": r["id"], "text": r["text"], "raw": r["raw"]} for r in rows]}


# --- subgraphs --------------------------------------------------------------------------------


def prompt_subgraph(
    store: Store,
    model: str,
    tokens: Sequence[PromptToken],
    k: int,
    collapse_variants: bool = False,
    title: str | None = None,
) -> Subgraph:
    """The prompt's tokens (seeds), each with its ``k`` nearest tokens, and every SIMILAR_TO edge among them.

    Edges of any stored rank between shown tokens are included, not only seed ->
    neighbour. ``collapse_variants`` draws each variant group as one node (see
    :func:`collapse`). ``title`` defaults to the prompt's token texts.
    """
    props = store.require_model(model)
    k = check_stored_k(props, k)
    if not tokens:
        raise InvalidArgument("the prompt has no tokens; give some text")
    stored = _require_ids(store, model, [t.id for t in tokens], "prompt token")
    ids = sorted({t.id for t in tokens})
    rows = store.read("prompt_subgraph", model=model, ids=ids, k=k)
    if title is None:
        title = "prompt " + "|".join(stored[t.id]["text"] for t in tokens)
    subgraph = subgraph_from_rows(model, title, rows, "prompt_subgraph")
    return collapse(subgraph) if collapse_variants else subgraph


def is_word(text: str, family: str) -> bool:
    """Whether a token is a whole word the random atlas may draw.

    A word is at least ``MIN_WORD_LENGTH`` letters (``str.isalpha``: any script,
    no digits, punctuation or brackets, so ``[unused3]``, ``<unk>`` and ``##ing`` are
    out). For byte-level BPE and SentencePiece the token must start a word: its text
    is one space followed by the letters (`` list``); a piece without the space is
    usually the inside of a word (``ization``). For WordPiece and other families the
    text is the letters alone (``##`` continuation pieces are out).

    >>> [is_word(t, "byte_bpe") for t in [" list", "list", " a", " C++"]]
    [True, False, False, False]
    >>> [is_word(t, "wordpiece") for t in ["list", "##list", "[unused3]", "café"]]
    [True, False, False, True]
    """
    if family in SPACE_FAMILIES:
        if not text.startswith(" "):
            return False
        text = text[1:]
    return len(text) >= MIN_WORD_LENGTH and text.isalpha()


def random_words(store: Store, model: str, n: int, seed: int) -> list[dict]:
    """``n`` distinct random whole words of the model (see :func:`is_word`): ``[{id, text, raw}]``.

    The candidates are every non-special token that is a word, ordered by id; ``n`` of
    them are drawn without replacement with ``numpy.random.default_rng(seed)``, in the
    order drawn. The same seed and the same stored model give the same words.
    """
    props = store.require_model(model)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise InvalidArgument(f"the number of words must be at least 1, got {n!r}")
    family = props.get("family", "other")
    candidates = [r for r in store.read("atlas_candidates", model=model) if is_word(r["text"], family)]
    if n > len(candidates):
        raise InvalidArgument(f"model {model!r} has only {len(candidates)} whole-word tokens; ask for at most that many")
    picks = np.random.default_rng(seed).choice(len(candidates), size=int(n), replace=False)
    return [{"id": candidates[i]["id"], "text": candidates[i]["text"], "raw": candidates[i]["raw"]} for i in picks.tolist()]


def word_texts(word: str, family: str) -> list[str]:
    """The token texts a typed word may be, most wanted first.

    For byte-level BPE and SentencePiece the word-start token (`` list``) comes before
    the bare piece (``list``).

    >>> word_texts("list", "byte_bpe"), word_texts("list", "wordpiece"), word_texts(" list", "byte_bpe")
    ([' list', 'list'], ['list'], [' list'])
    """
    if family in SPACE_FAMILIES and not word.startswith(" "):
        return [" " + word, word]
    return [word]


def atlas_subgraph(
    store: Store,
    model: str,
    words: Sequence[str] | None,
    n: int,
    seed: int,
    k: int,
    collapse_variants: bool = False,
) -> tuple[Subgraph, list[str]]:
    """An atlas: words (seeds), each with its ``k`` nearest tokens, and every SIMILAR_TO edge among them.

    ``words`` None draws ``n`` random words with ``seed`` (:func:`random_words`);
    otherwise each given word is looked up as a single token (see :func:`word_texts`)
    and ``n``/``seed`` are unused. Returns the subgraph and the given words that are
    not single tokens of the vocabulary, in the order given; TokenNotFound when none is.
    """
    props = store.require_model(model)
    k = check_stored_k(props, k)
    family = props.get("family", "other")
    missing: list[str] = []
    if words is None:
        ids = [w["id"] for w in random_words(store, model, n, seed)]
        title = f"atlas of {n} random words (seed {seed})"
    else:
        given = list(dict.fromkeys(words))
        if not given:
            raise InvalidArgument("no words given; give some words or leave them out for random ones")
        texts = sorted({t for w in given for t in word_texts(w, family)})
        by_text: dict[str, int] = {}
        for row in store.read("atlas_tokens_by_text", model=model, texts=texts):
            by_text.setdefault(row["text"], row["id"])  # rows by id: keep the lowest
        ids = []
        for word in given:
            token = next((by_text[t] for t in word_texts(word, family) if t in by_text), None)
            if token is None:
                missing.append(word)
            else:
                ids.append(token)
        if not ids:
            raise TokenNotFound(
                f"none of the words {', '.join(repr(w) for w in given)} is a single token of {model}; "
                "`atlas neighbours WORD` names close tokens"
            )
        title = "atlas of " + ", ".join(w for w in given if w not in missing)
    rows = store.read("prompt_subgraph", model=model, ids=sorted(set(ids)), k=k)
    subgraph = subgraph_from_rows(model, f"{title}, k={k}", rows, "prompt_subgraph")
    return (collapse(subgraph) if collapse_variants else subgraph), missing


def save_prompt(store: Store, model: str, text: str, tokens: Sequence[PromptToken]) -> str:
    """Store ``(:Prompt {model, text})-[:HAS_TOKEN {position}]->(:Token)``; returns a query to see it in Neo4j Browser.

    Saving the same prompt again changes nothing; saving it with other tokens (say,
    with special tokens) replaces its links. The returned query is one line with the
    model and text as escaped string literals, so it pastes into Browser as is.
    """
    store.require_model(model)
    if not tokens:
        raise InvalidArgument("the prompt has no tokens; give some text")
    _require_ids(store, model, [t.id for t in tokens], "prompt token")
    rows = [{"position": int(t.position), "id": int(t.id)} for t in tokens]
    store.write("prompt_save", model=model, text=text, rows=rows)
    return (
        f"MATCH (p:Prompt {{model: {cypher_string(model)}, text: {cypher_string(text)}}})-[h:HAS_TOKEN]->(t:Token) "
        "RETURN p, h, t ORDER BY h.position"
    )


# --- named queries ----------------------------------------------------------------------------


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
    line = next((l for l in header(name).splitlines() if l.startswith("Parameters:")), "")
    params = []
    for pname, spec in _DECLARED.findall(line):
        parts = [p.strip() for p in spec.split(",")]
        kind = parts[0]
        if kind not in PARAM_TYPES:
            raise InvalidArgument(f"view {name} declares ${pname} with unknown type {kind!r}; use one of {', '.join(PARAM_TYPES)}")
        default = next((p[len("default "):].strip() for p in parts[1:] if p.startswith("default ")), None)
        if default is None:
            params.append(Parameter(pname, kind))
        else:
            params.append(Parameter(pname, kind, _convert(name, pname, kind, default), required=False))
    return params


def statement_parameters(name: str) -> list[str]:
    """The ``$parameters`` a statement's body (without its ``//`` header) uses, in first-use order."""
    body = "\n".join(l for l in query(name).splitlines() if not l.lstrip().startswith("//"))
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
    if "k" in values:
        check_stored_k(props, values["k"])
    rows = store.read(view, **values)
    shown = ", ".join(f"{p.name}={values[p.name]!r}" for p in declared if p.name != "model")
    subgraph = subgraph_from_rows(values["model"], f"{view} {shown}".strip(), rows, view)
    if not subgraph.nodes:
        raise InvalidArgument(
            f"view {view} found no tokens in model {values['model']!r} for {shown or 'these parameters'}; check the parameters"
        )
    return subgraph


# --- building and collapsing subgraphs -------------------------------------------------------


def subgraph_from_rows(model: str, title: str, rows: Sequence[dict], statement: str) -> Subgraph:
    """A Subgraph from rows with ``nodes`` and ``edges`` lists (the named-view contract), ordered."""
    nodes: dict[int, Node] = {}
    edges: dict[tuple[int, int], Edge] = {}
    for row in rows:
        if "nodes" not in row or "edges" not in row:
            raise InvalidArgument(f"{statement} must return columns nodes and edges, got {', '.join(row) or 'none'}")
        for item in row["nodes"] or []:
            node = _node(item, statement)
            if node.id in nodes:
                node = replace(nodes[node.id], seed=nodes[node.id].seed or node.seed)
            nodes[node.id] = node
        for item in row["edges"] or []:
            edge = _edge(item, statement)
            edges.setdefault((edge.source, edge.target), edge)
    for edge in edges.values():
        for end in (edge.source, edge.target):
            if end not in nodes:
                raise InvalidArgument(
                    f"{statement} returned edge {edge.source} -> {edge.target} but not node {end}; return both ends"
                )
    return Subgraph(
        model=model,
        title=title,
        nodes=sorted(nodes.values(), key=lambda n: n.id),
        edges=sorted(edges.values(), key=lambda e: (e.source, e.rank, e.target)),
    )


def _node(item: dict, statement: str) -> Node:
    if not isinstance(item, dict) or item.get("id") is None or item.get("text") is None:
        raise InvalidArgument(f"{statement} returned a node without id or text: {item!r}")
    return Node(
        id=int(item["id"]),
        text=str(item["text"]),
        raw=str(item.get("raw") or ""),
        special=bool(item.get("special") or False),
        variant=item.get("variant"),
        seed=bool(item.get("seed") or False),
    )


def _edge(item: dict, statement: str) -> Edge:
    if not isinstance(item, dict) or any(item.get(f) is None for f in ("source", "target", "score", "rank")):
        raise InvalidArgument(f"{statement} returned an edge without source, target, score or rank: {item!r}")
    return Edge(int(item["source"]), int(item["target"]), float(item["score"]), int(item["rank"]))


def collapse(subgraph: Subgraph) -> Subgraph:
    """Draw each variant group as one node.

    A group (nodes sharing a variant key) becomes the node of its lowest token id,
    with that token's text and ``members`` = every token id of the group shown (left
    empty for a group of one token); it is a seed if any member is. Edges are
    re-pointed to group nodes; edges inside a group are dropped; parallel edges are
    merged, keeping the best score and its rank (ties: the lower rank). Nodes without
    a key stay as they are.

    >>> g = Subgraph("m", "t", [Node(1, "list", variant="list"), Node(4, " List", variant="list"),
    ...     Node(7, "cat", variant="cat")], [Edge(1, 4, 0.9, 1), Edge(1, 7, 0.5, 2), Edge(4, 7, 0.6, 1)])
    >>> c = collapse(g)
    >>> [(n.id, n.members) for n in c.nodes], c.edges
    ([(1, (1, 4)), (7, ())], [Edge(source=1, target=7, score=0.6, rank=1)])
    """
    groups: dict[str, list[Node]] = {}
    for node in subgraph.nodes:
        if node.variant is not None:
            groups.setdefault(node.variant, []).append(node)
    home = {n.id: n.id for n in subgraph.nodes}  # token id -> the node id it is drawn as
    nodes = {n.id: n for n in subgraph.nodes if n.variant is None}
    for members in groups.values():
        members = sorted(members, key=lambda n: n.id)
        rep = members[0]
        ids = tuple(n.id for n in members)
        nodes[rep.id] = replace(rep, seed=any(n.seed for n in members), members=ids if len(ids) > 1 else ())
        home.update((i, rep.id) for i in ids)
    edges: dict[tuple[int, int], Edge] = {}
    for edge in sorted(subgraph.edges, key=lambda e: (e.source, e.rank, e.target)):
        source, target = home[edge.source], home[edge.target]
        if source == target:
            continue
        best = edges.get((source, target))
        if best is None or (edge.score, -edge.rank) > (best.score, -best.rank):
            edges[(source, target)] = Edge(source, target, edge.score, edge.rank)
    return Subgraph(
        model=subgraph.model,
        title=subgraph.title,
        nodes=sorted(nodes.values(), key=lambda n: n.id),
        edges=sorted(edges.values(), key=lambda e: (e.source, e.rank, e.target)),
    )
