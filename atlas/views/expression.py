"""The tokens nearest to an expression of tokens (``king - man + woman``), exactly, over a stored model's whole vocabulary.

The operands are looked up in the stored graph (a word the way ``atlas neighbours``
resolves it, see :func:`atlas.views.lookup.word_texts`; a quoted text as a token, else as
the mean of its tokens), their rows are read from the model's recorded source, and the
whole matrix is scored against the expression in one pass of row blocks
(:mod:`atlas.core.arithmetic`). Only rows of stored tokens come out: padding rows past the
tokenizer, and any row not stored, are left out, as are zero rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np
from threadpoolctl import ThreadpoolController

from atlas.core import arguments
from atlas.core.arithmetic import Term, combine, cosine_scores, describe, parse, ranked, unit_mean
from atlas.core.prompt_tokens import tokenize
from atlas.core.subgraph import Edge, Node, Subgraph
from atlas.errors import ExpressionError, TokenNotFound
from atlas.files.hidden_states import refuse_layer_atlas
from atlas.files.model_files import embedding_rows, read_rows, read_tokenizer
from atlas.graph.store import Store
from atlas.results import Graph, Nearest
from atlas.views.lookup import SUGGESTIONS, suggestions, word_texts
from atlas.views.neighbourhoods import seeded_subgraph

EXPRESSION_ID = -1  # the node id of the expression in an exported subgraph: token ids are never negative
MARGIN = 16  # candidates taken beyond k at first, for rows that turn out not to be stored tokens


@dataclass(frozen=True)
class Operand:
    """A term of the expression and the stored tokens its vector is made of (one, or a quoted text's tokens)."""

    term: Term
    tokens: tuple[dict, ...]  # ({id, text}, ...)


@dataclass(frozen=True)
class Near:
    """The answer of :func:`nearest_to`."""

    model: str
    expression: str  # the expression written back canonically, e.g. 'king - man + woman'
    operands: tuple[Operand, ...]
    left_out: tuple[int, ...]  # token ids of the operands, left out of the answer (empty with keep_operands)
    neighbours: tuple[dict, ...]  # ({rank, id, text, score}, ...), best first
    rows: int  # matrix rows scored
    seconds: float  # time to score them


def nearest_to(
    store: Store,
    model: str,
    expression: str,
    k: int = 10,
    keep_operands: bool = False,
    offline: bool = False,
) -> Near:
    """The ``k`` stored tokens whose rows have the highest cosine with ``expression``, best first (ties: lower id).

    The operands' own tokens are left out unless ``keep_operands``. Raises
    ExpressionError for a malformed expression or a zero vector, TokenNotFound for an
    operand that is no token (naming close ones).
    """
    k = arguments.integer(k, "k", 1)
    terms = parse(expression)
    props = store.require_model(model)
    refuse_layer_atlas(props, "`atlas near`")
    operands = _resolve(store, model, props, terms, offline)
    ids = sorted({t["id"] for o in operands for t in o.tokens})
    rows = read_rows(props["source"], ids, offline=offline, name=props.get("embedding_tensor"))  # (n, d)
    row_of = {token: i for i, token in enumerate(ids)}
    vectors = np.stack([_operand_vector(o, rows, row_of) for o in operands])  # (terms, d)
    query = combine([o.term.weight for o in operands], vectors)  # (d,)

    matrix = embedding_rows(props["source"], offline=offline, name=props.get("embedding_tensor"))
    began = time.perf_counter()
    scores = cosine_scores(matrix.read, matrix.rows, query, blas=ThreadpoolController())  # (rows,)
    seconds = time.perf_counter() - began

    left_out = () if keep_operands else tuple(ids)
    neighbours = _stored_best(store, model, scores, int(k), left_out)
    return Near(model, describe(terms), tuple(operands), left_out, tuple(neighbours), matrix.rows, seconds)


def nearest(
    store: Store,
    model: str,
    expression: str,
    k: int = 10,
    keep_operands: bool = False,
    offline: bool = False,
    graph: bool = False,
) -> Nearest:
    """:func:`nearest_to` as the result :meth:`atlas.Atlas.near` returns; with ``graph``, the answer as a subgraph too."""
    found = nearest_to(store, model, expression, k, keep_operands=keep_operands, offline=offline)
    return Nearest(
        model=model,
        expression=found.expression,
        operands=[
            {"text": o.term.text, "weight": o.term.weight, "quoted": o.term.quoted, "tokens": list(o.tokens)}
            for o in found.operands
        ],
        left_out=list(found.left_out),
        rows=list(found.neighbours),
        compared=found.rows,
        seconds=found.seconds,
        graph=Graph(near_subgraph(store, found)) if graph else None,
    )


def _resolve(store: Store, model: str, props: dict, terms: list[Term], offline: bool) -> list[Operand]:
    """Each term's stored tokens; TokenNotFound (with close tokens) for a word that is no token."""
    family = props.get("family", "other")
    tokenizer = None
    operands = []
    for term in terms:
        if not term.quoted:
            texts = word_texts(term.text, family)
            found = {r["text"]: r for r in store.read("atlas_tokens_by_text", model=model, texts=texts)}
            match = next((found[t] for t in texts if t in found), None)
            if match is None:
                raise TokenNotFound(_unknown(store, model, family, term))
            operands.append(Operand(term, ({"id": match["id"], "text": match["text"]},)))
            continue
        exact = store.read("tokens_by_text", model=model, text=term.text)
        if exact:
            operands.append(Operand(term, ({"id": exact[0]["id"], "text": exact[0]["text"]},)))
            continue
        if tokenizer is None:
            tokenizer = read_tokenizer(props["source"], offline=offline)
        pieces = tokenize(tokenizer, term.text, family=family)
        if not pieces:
            raise ExpressionError(f'the quoted text "{term.text}" at position {term.position} has no tokens')
        stored = {r["id"]: r for r in store.read("tokens_by_id", model=model, ids=[p.id for p in pieces])}
        missing = [p for p in pieces if p.id not in stored]
        if missing:
            raise TokenNotFound(
                f'the quoted text "{term.text}" at position {term.position} has token {missing[0].id} '
                f"({missing[0].piece!r}), which is not stored in model {model!r}"
            )
        operands.append(Operand(term, tuple({"id": p.id, "text": stored[p.id]["text"]} for p in pieces)))
    return operands


def _unknown(store: Store, model: str, family: str, term: Term) -> str:
    """The message for a word that is no token, naming close tokens: those of ever shorter prefixes, down to three letters."""
    close = suggestions(store, model, family, term.text, down_to=3)
    named = f"; close tokens: {', '.join(repr(t) for t in close[:SUGGESTIONS])}" if close else ""
    return (
        f"{term.text!r} at position {term.position} is not a token of {model}{named}; "
        f'or write "{term.text}" in double quotes for the mean of its tokens'
    )


def _operand_vector(operand: Operand, rows: np.ndarray, row_of: dict[int, int]) -> np.ndarray:
    """The operand's unit vector (d,): its token's unit row, or the normalised mean of its tokens' unit rows."""
    own = rows[[row_of[t["id"]] for t in operand.tokens]]  # (m, d)
    if not np.isfinite(own).all():
        raise ExpressionError(
            f"operand {operand.term.text!r} at position {operand.term.position} has an embedding row that is not a "
            "finite number (NaN or infinity in the model's weights); leave it out"
        )
    try:
        return unit_mean(own)
    except ExpressionError:
        texts = ", ".join(repr(t["text"]) for t in operand.tokens)
        raise ExpressionError(
            f"operand {operand.term.text!r} at position {operand.term.position} has no direction "
            f"(the embedding rows of {texts} are zero or cancel out); leave it out"
        ) from None


def _stored_best(store: Store, model: str, scores: np.ndarray, k: int, left_out: tuple[int, ...]) -> list[dict]:
    """The k best-scoring rows that are stored tokens, as ``{rank, id, text, score}``.

    Takes k + MARGIN candidates, and four times more while rows that are not stored
    tokens (padding) leave fewer than k.
    """
    count = k + MARGIN
    while True:
        candidates = ranked(scores, count, skip=left_out)  # (<= count,) row ids, best first
        stored = {r["id"]: r for r in store.read("tokens_by_id", model=model, ids=candidates.tolist())}
        kept = [int(i) for i in candidates if int(i) in stored][:k]
        if len(kept) == k or len(candidates) < count:
            break
        count *= 4
    return [
        {"rank": rank, "id": i, "text": stored[i]["text"], "score": float(scores[i])}
        for rank, i in enumerate(kept, start=1)
    ]


def near_subgraph(store: Store, result: Near) -> Subgraph:
    """The answer as a small graph: the expression (node id -1), its nearest tokens, and their SIMILAR_TO edges among themselves.

    The expression's edges to its tokens carry their cosine and rank; the tokens'
    edges are the stored ones, of any rank.
    """
    ids = [n["id"] for n in result.neighbours]
    title = f"nearest tokens to {result.expression}" + ("" if not result.left_out else " (operands left out)")
    found = seeded_subgraph(store, result.model, ids, 0, title) if ids else Subgraph(result.model, title)
    expression = Node(id=EXPRESSION_ID, text=result.expression, seed=True)
    nodes = [expression] + [replace(n, seed=False) for n in found.nodes]
    edges = [Edge(EXPRESSION_ID, n["id"], n["score"], n["rank"]) for n in result.neighbours] + found.edges
    return Subgraph(result.model, title, nodes, edges)
