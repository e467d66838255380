"""Under-trained tokens of a stored model: categorise every token, score it, and store both on its (:Token) node.

Reads the model's tokenizer and input embeddings again from the source its load recorded;
the formula, the reference and the threshold are those of :mod:`atlas.core.untrained`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

from atlas.core import untrained
from atlas.errors import InvalidArgument, ReferenceEmpty
from atlas.files.model_files import read_embedding_matrix, read_tokenizer, resolve
from atlas.files.token_categories import categories as token_categories
from atlas.graph.lease import Lease
from atlas.graph.store import Store
from atlas.graph.write_params import batched


@dataclass(frozen=True)
class Scored:
    """What a run stored: the counts per category, the reference, the threshold and the candidates' count."""

    categories: dict[str, int]
    reference: str  # 'given', 'declared' (unused/reserved tokens the tokenizer names) or 'unreachable'
    reference_size: int
    threshold: float
    candidates: int


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


def score_stored(
    store: Store,
    model: str,
    reference_ids: Sequence[int] | None = None,
    offline: bool = False,
    batch_size: int = 20_000,
) -> Scored:
    """Categorise and score every stored token of ``model`` and store the results; returns what was stored."""
    props = store.require_model(model)
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
    with Lease(store, model):
        for _ in store.write_batches("untrained_tokens_write", batched(rows, batch_size), model=model):
            pass
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
    return Scored(counts, how, int(reference.sum()), found.threshold, int(found.candidate.sum()))
