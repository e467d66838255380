"""A word through the layers, assembled: texts run through the model, each state's nearest static tokens,
the states of a shared word compared across texts, and the stored layer atlases' view when there is one.

The hidden states come from :mod:`atlas.files.text_states`, the numbers from
:mod:`atlas.core.context`; this module puts them in plain rows (what ``to_dict()`` holds
and the page draws) and reads the graph for what is stored about them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from atlas.core import arguments
from atlas.core.context import (
    Vocabulary,
    cosine,
    nearest,
    own_cosine,
    separating,
    word_positions,
    word_state,
)
from atlas.errors import InvalidArgument, TokenNotFound
from atlas.files.hidden_states import layer_name
from atlas.files.text_states import StateModel, TextStates
from atlas.graph.store import Store
from atlas.results import Context


def vocabulary_of(state_model: StateModel) -> Vocabulary:
    """The static rows the states are compared with: every input-embedding row the tokenizer names."""
    matrix = state_model.input_embeddings()  # (rows, d)
    ids, text = state_model.vocabulary(matrix.shape[0])
    return Vocabulary.from_matrix(matrix, ids, text)


def _neighbour_rows(vocab: Vocabulary, rows: np.ndarray, scores: np.ndarray) -> list[dict]:
    return [
        {"rank": rank, "id": int(vocab.ids[r]), "text": vocab.text[r], "score": float(s)}
        for rank, (r, s) in enumerate(zip(rows, scores), start=1)
        if r >= 0
    ]


def _positions(run: TextStates, word: str | None, index: int) -> list[list[int]]:
    """The positions reported for one text: each occurrence of ``word``, or every non-special token as one group."""
    if word is None:
        return [[i for i, s in enumerate(run.special) if not s]]
    found = word_positions(run.text, run.offsets, word)
    if not found and word_positions(run.text, run.unknown, word):
        raise InvalidArgument(
            f"the word {word!r} is unknown to the tokenizer: it reads it in text {index + 1} as its unknown token, "
            "which has no state of the word's own; give a word the tokenizer knows"
        )
    if not found:
        raise InvalidArgument(
            f"the word {word!r} is not in text {index + 1} ({run.text!r}); give a word that occurs in every text"
        )
    return found


def explore(
    state_model: StateModel,
    vocab: Vocabulary,
    model: str,
    texts: Sequence[str],
    word: str | None,
    layers: str | Sequence[int] | None,
    k: int,
) -> Context:
    """Run each text through the model and describe the states of its tokens (or of ``word``'s) at ``layers``."""
    texts = arguments.texts(list(texts), "texts")
    arguments.integer(k, "k", 1, 1000)
    chosen = arguments.layers(layers, state_model.layers)
    runs, found, seconds, out, kept = [], [], [], [], []
    notes: list[str] = []
    for index, text in enumerate(texts):
        began = time.perf_counter()
        run = state_model.run(text)
        groups = _positions(run, word, index)
        if word is None and run.unknown:
            unknown = ", ".join(repr(text[a:b]) for a, b in run.unknown)
            notes.append(
                f"text {index + 1}: {unknown} {'is' if len(run.unknown) == 1 else 'are'} unknown to the tokenizer "
                "(read as its unknown token) and left out"
            )
        positions = [p for group in groups for p in group]
        states = run.states[chosen][:, positions, :]  # (layers, n, d)
        flat = states.reshape(-1, states.shape[-1])  # (layers * n, d)
        rows, scores = nearest(vocab, flat, k)
        own = own_cosine(vocab, flat, [run.ids[p] for p in positions] * len(chosen))
        entries = []
        for li, layer in enumerate(chosen):
            for pi, p in enumerate(positions):
                at = li * len(positions) + pi
                entries.append(
                    {
                        "position": p,
                        "id": run.ids[p],
                        "token": run.tokens[p],
                        "layer": layer,
                        "own_cosine": float(own[at]),
                        "nearest": _neighbour_rows(vocab, rows[at], scores[at]),
                    }
                )
        seconds.append(time.perf_counter() - began)
        order = [li * len(positions) + pi for li in range(len(chosen)) for pi in range(len(positions))]
        kept.append(flat[order])  # (entries, d), in the entries' order
        runs.append(run)
        found.append(groups)
        out.append(
            {
                "text": text,
                "tokens": [
                    {"position": i, "id": run.ids[i], "text": run.tokens[i], "special": run.special[i]}
                    for i in range(len(run.ids))
                ],
                "occurrences": groups if word is not None else [],
                "states": entries,
            }
        )
    comparisons = compare(vocab, runs, found, chosen, k) if word is not None and len(texts) > 1 else []
    return Context(model, word, k, chosen, state_model.layers, out, comparisons, seconds, notes=notes, vectors=kept)


def compare(
    vocab: Vocabulary, runs: list[TextStates], found: list[list[list[int]]], layers: list[int], k: int
) -> list[dict]:
    """For every pair of texts, per layer: the cosine of the word's states (its first occurrence, pieces averaged)
    and the tokens that separate them, each way."""
    words = [word_state(run.states, groups[0]) for run, groups in zip(runs, found)]  # each (L + 1, d)
    out = []
    for a in range(len(runs)):
        for b in range(a + 1, len(runs)):
            for layer in layers:
                sa, sb = words[a][layer], words[b][layer]
                toward_a, gaps_a = separating(vocab, sa, sb, k)
                toward_b, gaps_b = separating(vocab, sb, sa, k)
                out.append(
                    {
                        "a": a,
                        "b": b,
                        "layer": layer,
                        "cosine": cosine(sa, sb),
                        "toward_a": [
                            {"id": int(vocab.ids[r]), "text": vocab.text[r], "gap": float(g)}
                            for r, g in zip(toward_a, gaps_a)
                        ],
                        "toward_b": [
                            {"id": int(vocab.ids[r]), "text": vocab.text[r], "gap": float(g)}
                            for r, g in zip(toward_b, gaps_b)
                        ],
                    }
                )
    return out


def layer_atlas_mismatch(store: Store, props: dict, base: dict, layer: int, ids: Sequence[int]) -> str | None:
    """Why the model ``props`` (stored as ``<model>@<layer>``) is not layer ``layer``'s atlas of the model ``base``,
    or None when it is: it records that layer, the same source and tokenizer family, and the same text for each
    of the token ``ids`` that both hold."""
    if props.get("layer") is None:
        return "it records no layer (a model loaded under that name, not a layer atlas)"
    if props.get("layer") != layer:
        return f"it records layer {props.get('layer')}"
    if props.get("source") != base.get("source"):
        return (
            f"it was made from {props.get('source')!r}, not from {base.get('name')!r}'s source {base.get('source')!r}"
        )
    if props.get("family") != base.get("family"):
        return f"its tokenizer family ({props.get('family')!r}) is not {base.get('name')!r}'s ({base.get('family')!r})"
    wanted = sorted({int(i) for i in ids})
    own = {r["id"]: r["text"] for r in store.read("tokens_by_id", model=base["name"], ids=wanted)}
    for row in store.read("tokens_by_id", model=props["name"], ids=wanted):
        if row["id"] in own and row["text"] != own[row["id"]]:
            return f"its token {row['id']} is {row['text']!r}, not {own[row['id']]!r} (another tokenizer)"
    return None


def add_layer_atlases(store: Store, data: Context, base: dict | None = None) -> None:
    """Where ``<model>@<L>`` is stored (a layer atlas: every token run alone to layer L), add to each state at L the
    layer atlas's view of it, as ``atlas``, and how it was found, as ``atlas_by``; note the layers that have none.

    With the layer atlas's vectors stored (``atlas load --layer L --vectors``), ``atlas`` is the exact
    ``k`` nearest tokens of the contextual state among them (cosine, a scan in Neo4j; ``atlas_by``
    "state"). Without, it is the layer atlas's stored neighbours of the token's own id: the token
    alone, out of context, the view the context moves it away from (or not; ``atlas_by`` "token")."""
    missing, unvectored = [], []
    base = base if base is not None else store.model(data.model) or {}
    for layer in data.layers:
        name = layer_name(data.model, layer)
        props = store.model(name)
        ids = [e["id"] for t in data.texts for e in t["states"]]
        wrong = layer_atlas_mismatch(store, props, base, layer, ids) if props is not None else None
        if wrong is not None:
            data.notes.append(f"model {name!r} is not used as layer {layer}'s atlas of {data.model!r}: {wrong}")
            props = None
        stored = props is not None and props.get("status") == "complete"
        data.layer_atlas.append({"layer": layer, "model": name, "stored": stored})
        if props is None or not stored:
            missing.append(layer)
            continue
        label = props.get("vector_label") if props.get("vectors") == "complete" else None
        if label is None:
            unvectored.append(layer)
        k = min(data.k, int(props["k"]))
        for text, vectors in zip(data.texts, data.vectors):
            for entry, vector in zip(text["states"], vectors):
                if entry["layer"] != layer:
                    continue
                if label is not None:
                    rows = store.read("vectors_nearest_to", label=label, vector=vector.astype(float).tolist(), k=data.k)
                    entry["atlas"] = [
                        {"rank": i + 1, "id": r["id"], "text": r["text"], "score": float(r["score"])}
                        for i, r in enumerate(rows)
                    ]
                    entry["atlas_by"] = "state"
                else:
                    rows = store.read("neighbours", model=name, id=int(entry["id"]), k=k)
                    entry["atlas"] = [
                        {"rank": r["rank"], "id": r["id"], "text": r["text"], "score": r["score"]} for r in rows
                    ]
                    entry["atlas_by"] = "token"
    if missing:
        shown = ", ".join(str(x) for x in missing)
        data.notes.append(
            f"no layer atlas is stored for layer{'s' if len(missing) > 1 else ''} {shown} "
            f"(models named {layer_name(data.model, missing[0])} ...); only the static atlas is compared"
        )
    if unvectored:
        shown = ", ".join(str(x) for x in unvectored)
        data.notes.append(
            f"the layer atlas{'es' if len(unvectored) > 1 else ''} of layer{'s' if len(unvectored) > 1 else ''} "
            f"{shown} {'have' if len(unvectored) > 1 else 'has'} no vectors: its lines (@L) are its stored neighbours "
            "of the token alone; load it with vectors=True (--vectors) to rank the state itself against it"
        )


def map_positions(store: Store, model: str, ids: Sequence[int]) -> dict[int, tuple[float, float]]:
    """The map positions (x, y) of tokens ``ids`` in an analysed model; tokens without one are left out."""
    rows = store.read("context_positions", model=model, ids=sorted({int(i) for i in ids}))
    return {r["id"]: (float(r["x"]), float(r["y"])) for r in rows if r["x"] is not None and r["y"] is not None}


def map_backdrop(store: Store, model: str, most: int = 30_000) -> np.ndarray:
    """Up to about ``most`` tokens' map positions (every n-th id), (n, 2) float32: the faint map behind the paths."""
    props = store.require_model(model)
    every = max(1, -(-int(props.get("vocab_size") or most) // most))
    rows = store.read("context_backdrop", model=model, every=every)
    return np.array([[r["x"], r["y"]] for r in rows], dtype=np.float32).reshape(-1, 2)


def save_rows(data: Context) -> list[dict]:
    """One row per saved state (see ``cypher/context_save.cypher``): its key, text, position, layer, token and nearest."""
    from atlas.core.context import context_key

    rows = []
    for text in data.texts:
        for entry in text["states"]:
            rows.append(
                {
                    "key": context_key(data.model, text["text"], entry["position"], entry["layer"]),
                    "text": text["text"],
                    "position": entry["position"],
                    "layer": entry["layer"],
                    "id": entry["id"],
                    "token": entry["token"],
                    "own_cosine": entry["own_cosine"],
                    "near": [{"id": n["id"], "rank": n["rank"], "score": n["score"]} for n in entry["nearest"]],
                }
            )
    return rows


def check_stored(store: Store, model: str, data: Context) -> None:
    """Every token a save or a page needs is stored in ``model``; TokenNotFound naming the first that is not."""
    from atlas.graph.store import require_ids

    ids = {e["id"] for t in data.texts for e in t["states"]}
    ids |= {n["id"] for t in data.texts for e in t["states"] for n in e["nearest"]}
    try:
        require_ids(store, model, sorted(ids), "token id")
    except TokenNotFound as missing:
        raise TokenNotFound(f"{missing}; nothing was saved") from None
