"""Under-trained tokens of a stored model: categorise every token, score it, and store both on its (:Token) node.

Reads the model's tokenizer and input embeddings again from the source its load recorded;
the formula, the reference and the threshold are those of :mod:`atlas.core.untrained`. With
``verify_top``, the highest-scoring candidates are checked by running the model itself on a
prompt that asks it to repeat each (:mod:`atlas.files.repeat_check`), and the probability it
gives the token is stored beside the score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np

from atlas.core import untrained
from atlas.core.progress import StageProgress
from atlas.core.topk import resolve_device
from atlas.errors import InvalidArgument, ReferenceEmpty
from atlas.files import repeat_check
from atlas.files.hidden_states import model_folder
from atlas.files.model_files import load_tokenizer, read_embedding_matrix, read_tokenizer, resolve
from atlas.files.token_categories import categories as token_categories
from atlas.graph.lease import Lease
from atlas.graph.store import Store
from atlas.graph.write_params import batched


@dataclass(frozen=True)
class Repeated:
    """The repeat check of a run: the prompt (TOKEN where the candidate goes), its style and the checked tokens."""

    prompt: str
    style: str  # 'chat template' or 'plain'
    rows: list[dict]  # per checked candidate, best score first: id, score, repeat_probability


@dataclass(frozen=True)
class Scored:
    """What a run stored: the counts per category, the reference, the threshold, the candidates' count and the
    repeat check (None when the model was not asked)."""

    categories: dict[str, int]
    reference: str  # 'given', 'declared' (unused/reserved tokens the tokenizer names) or 'unreachable'
    reference_size: int
    threshold: float
    candidates: int
    repeat: Repeated | None = field(default=None)


def choose_reference(
    model: str, ids: np.ndarray, raw: Sequence[str], kinds: Sequence[str], given: Sequence[int] | None
) -> tuple[np.ndarray, str]:
    """The reference mask over ``ids`` and how it was chosen: ``given`` ids, else declared unused, else unreachable."""
    if given:
        row_of = {int(i): row for row, i in enumerate(ids)}
        top = int(ids.max()) if len(ids) else -1
        mask = np.zeros(len(ids), dtype=bool)
        for i in given:
            if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
                raise InvalidArgument(f"reference_ids holds {i!r}, not a token id")
            if int(i) not in row_of:
                raise InvalidArgument(
                    f"reference id {i} is not a stored token of model {model!r} ({len(ids):,} tokens, ids from 0 to {top:,})"
                )
            mask[row_of[int(i)]] = True
        return mask, "given"
    declared = untrained.declared_unused(raw)
    if declared.any():
        return declared, "declared"
    unreachable = np.isin(np.asarray(kinds), untrained.UNREACHABLE)
    if unreachable.any():
        return unreachable, "unreachable"
    raise ReferenceEmpty(
        f"the reference of model {model!r} is empty: its tokenizer declares no unused or reserved tokens and every "
        "token is reachable; give the ids of tokens known to be unused as reference_ids "
        "(`atlas untrained --reference-ids`)"
    )


def check_count(verify_top: object) -> int | None:
    """``verify_top`` as a count of candidates to check (None: no check); InvalidArgument unless a whole number >= 1.

    >>> check_count(None), check_count(5)
    (None, 5)
    """
    if verify_top is None:
        return None
    if isinstance(verify_top, bool) or not isinstance(verify_top, (int, np.integer)) or verify_top < 1:
        raise InvalidArgument(
            f"verify_top is how many candidates to check, a whole number of at least 1; got {verify_top!r}"
        )
    return int(verify_top)


def top_candidates(ids: np.ndarray, score: np.ndarray, candidate: np.ndarray, n: int) -> np.ndarray:
    """The rows of the ``n`` highest-scoring candidates, ties by id (the order `atlas untrained` shows them in).

    >>> top_candidates(np.array([3, 1, 2, 0]), np.array([0.5, 0.9, 0.5, 0.99]), np.array([1, 1, 1, 0], bool), 2).tolist()
    [1, 2]
    """
    rows = np.flatnonzero(candidate)
    order = np.lexsort((ids[rows], -score[rows]))
    return rows[order[:n]]


def refuse_unrunnable(model: str, props: dict) -> None:
    """InvalidArgument when ``model`` is no model that can be run: a corpus or a layer atlas."""
    if props.get("word_rule") is not None:
        raise InvalidArgument(
            f"model {model!r} is a corpus atlas of {props.get('source')!r}: it has no tokenizer and no language model "
            "to ask to repeat a token; under-training is found and checked on a model loaded from its files"
        )
    if props.get("layer") is not None:
        raise InvalidArgument(
            f"model {model!r} is a layer atlas (hidden states at layer {props['layer']}): it cannot be asked to repeat "
            f"a token; check the candidates of the model itself, loaded from {props.get('source')!r}"
        )


def score_stored(
    store: Store,
    model: str,
    reference_ids: Sequence[int] | None = None,
    offline: bool = False,
    batch_size: int = 20_000,
    verify_top: int | None = None,
    device: str = "cpu",
    on_progress: StageProgress | None = None,
) -> Scored:
    """Categorise and score every stored token of ``model`` and store the results; returns what was stored.

    With ``verify_top``, the model (from its recorded source, on ``device``) is asked to repeat
    each of the ``verify_top`` highest-scoring candidates first; nothing is stored when it
    cannot be (an encoder without a head that predicts tokens, a corpus or a layer atlas).
    ``on_progress("repeat", done, total)`` is told as the candidates are checked.
    """
    verify_top = check_count(verify_top)
    props = store.require_model(model)
    if verify_top is not None:
        resolve_device(device)
        refuse_unrunnable(model, props)
        repeat_check.require_token_head(resolve(props["source"], offline), model)
    if props.get("layer") is not None:
        raise InvalidArgument(
            f"model {model!r} is a layer atlas (hidden states at layer {props['layer']}); under-training is read "
            "from the input embeddings: load its source as a model of its own and score that"
        )
    tokens = store.read("tokens_all", model=model)
    ids = np.array([t["id"] for t in tokens], dtype=np.int64)
    raw = [t["raw"] or "" for t in tokens]
    special = [bool(t["special"]) for t in tokens]
    source = props["source"]
    tokenizer = read_tokenizer(source, offline=offline)
    kinds = token_categories(tokenizer, ids.tolist(), special)
    reference, how = choose_reference(model, ids, raw, kinds, reference_ids)
    matrix = read_embedding_matrix(resolve(source, offline, weights=True), props.get("tensor"))
    if len(ids) and int(ids.max()) >= matrix.shape[0]:
        raise InvalidArgument(
            f"the embedding matrix of {source!r} has {matrix.shape[0]:,} rows, fewer than model {model!r}'s tokens"
        )
    found = untrained.indicator(matrix[ids], reference, kinds)
    rows = [
        {"id": int(i), "category": k, "untrained": float(s), "candidate": bool(c), "reference": bool(r)}
        for i, k, s, c, r in zip(
            ids.tolist(), kinds, found.score.tolist(), found.candidate.tolist(), found.reference.tolist()
        )
    ]
    counts = untrained.count_categories(kinds)
    repeated = None
    if verify_top is not None:
        top = top_candidates(ids, found.score, found.candidate, verify_top)
        repeated = _repeat(props["source"], model, ids[top], found.score[top], offline, device, on_progress)
    with Lease(store, model):
        for _ in store.write_batches("untrained_tokens_write", batched(rows, batch_size), model=model):
            pass
        if repeated is not None:
            store.write(
                "untrained_repeat_write",
                model=model,
                rows=[{"id": r["id"], "probability": r["repeat_probability"]} for r in repeated.rows],
            )
            store.write(
                "model_untrained",
                name=model,
                props={
                    "repeat_checked": len(repeated.rows),
                    "repeat_prompt": repeated.prompt,
                    "repeat_prompt_style": repeated.style,
                },
            )
        store.write(
            "model_untrained",
            name=model,
            props={
                "untrained_reference": how,
                "untrained_reference_size": int(reference.sum()),
                "untrained_threshold": found.threshold,
                "untrained_candidates": int(found.candidate.sum()),
                "untrained_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                **{f"tokens_{name}": n for name, n in counts.items()},
            },
        )
    return Scored(counts, how, int(reference.sum()), found.threshold, int(found.candidate.sum()), repeated)


def _repeat(
    source: str,
    model: str,
    ids: np.ndarray,
    score: np.ndarray,
    offline: bool,
    device: str,
    on_progress: StageProgress | None,
) -> Repeated:
    """Ask the model of ``source`` to repeat each of the tokens ``ids``; their probabilities, in the order given."""
    tokenizer = load_tokenizer(source, offline=offline)
    prompt = repeat_check.build_prompt(tokenizer)
    lm = repeat_check.load_causal_lm(model_folder(source, offline), model, device)
    tell = on_progress or (lambda stage, done, total: None)
    probabilities = repeat_check.repeat_probabilities(
        lm, prompt, ids.tolist(), on_progress=lambda done, total: tell("repeat", done, total)
    )
    rows = [
        {"id": int(i), "score": float(s), "repeat_probability": float(p)}
        for i, s, p in zip(ids.tolist(), score.tolist(), probabilities.tolist())
    ]
    return Repeated(prompt.text, prompt.style, rows)
