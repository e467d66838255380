"""Whether a stored model's graph is what its load promised: every token stored, each with exactly its k neighbours."""

from __future__ import annotations

from atlas.graph.store import Store


def problems(
    store: Store,
    model: str,
    tokens: int | None = None,
    per_token: int | None = None,
    without: int | None = None,
    zero_ids: list[int] | None = None,
) -> list[str]:
    """What is wrong with ``model``'s graph, one sentence each; empty when it is consistent.

    ``tokens`` (how many tokens), ``per_token`` (neighbours of a token that has any),
    ``without`` (how many tokens have no neighbours: zero-norm rows) and ``zero_ids`` (which
    tokens those are) default to what the Model node recorded at its load (``vocab_size``,
    ``per_token`` or else ``k``, ``zero_rows`` or else the length of ``zero_ids``, ``zero_ids``).
    The load records ``zero_ids`` before writing, so an interrupted load is checked against
    them too: a token left without its edges is not taken for a zero-norm row.
    """
    props = store.require_model(model, allow_incomplete=True)
    tokens = int(props.get("vocab_size", 0)) if tokens is None else tokens
    per_token = int(props.get("per_token", props.get("k", 0))) if per_token is None else per_token
    zero_ids = props.get("zero_ids") if zero_ids is None else zero_ids
    if without is None:
        without = props.get("zero_rows", len(zero_ids) if zero_ids is not None else None)
    found = store.read("model_verify", model=model, per_token=per_token, zero_ids=zero_ids)[0]
    wrong = []
    if found["tokens"] != tokens:
        wrong.append(f"{found['tokens']:,} tokens stored, {tokens:,} expected")
    if found["wrong"]:
        examples = ", ".join(str(i) for i in found["examples"])
        wrong.append(
            f"{found['wrong']:,} tokens do not have exactly {per_token} distinct neighbours ranked 1..{per_token} "
            f"(token ids {examples}{', ...' if found['wrong'] > len(found['examples']) else ''})"
        )
    if without is not None and (found["without"] != without or found["unexpected"]):
        stray = found["unexpected_examples"]
        wrong.append(
            f"{found['without']:,} tokens have no neighbours, {without:,} expected (zero-norm rows)"
            + (
                f"; token ids {', '.join(str(i) for i in stray)}{', ...' if found['unexpected'] > len(stray) else ''} "
                "are not zero-norm rows"
                if stray
                else ""
            )
        )
    expected_edges = (tokens - (without if without is not None else found["without"])) * per_token
    if found["edges"] != expected_edges:
        wrong.append(f"{found['edges']:,} SIMILAR_TO edges, {expected_edges:,} expected")
    return wrong
