"""Whether a stored model's graph is what its load promised: every token stored, each with exactly its k neighbours."""

from __future__ import annotations

from atlas.graph.store import Store


def problems(
    store: Store,
    model: str,
    tokens: int | None = None,
    per_token: int | None = None,
    without: int | None = None,
) -> list[str]:
    """What is wrong with ``model``'s graph, one sentence each; empty when it is consistent.

    ``tokens`` (how many tokens), ``per_token`` (neighbours of a token that has any) and
    ``without`` (tokens with no neighbours: zero-norm rows) default to what the Model
    node recorded at its load (``vocab_size``, ``per_token`` or else ``k``, ``zero_rows``).
    """
    props = store.require_model(model, allow_incomplete=True)
    tokens = int(props.get("vocab_size", 0)) if tokens is None else tokens
    per_token = int(props.get("per_token", props.get("k", 0))) if per_token is None else per_token
    without = props.get("zero_rows") if without is None else without
    found = store.read("model_verify", model=model, per_token=per_token)[0]
    wrong = []
    if found["tokens"] != tokens:
        wrong.append(f"{found['tokens']:,} tokens stored, {tokens:,} expected")
    if found["wrong"]:
        examples = ", ".join(str(i) for i in found["examples"])
        wrong.append(
            f"{found['wrong']:,} tokens do not have exactly {per_token} distinct neighbours ranked 1..{per_token} "
            f"(token ids {examples}{', ...' if found['wrong'] > len(found['examples']) else ''})"
        )
    if without is not None and found["without"] != without:
        wrong.append(f"{found['without']:,} tokens have no neighbours, {without:,} expected (zero-norm rows)")
    expected_edges = (tokens - (without if without is not None else found["without"])) * per_token
    if found["edges"] != expected_edges:
        wrong.append(f"{found['edges']:,} SIMILAR_TO edges, {expected_edges:,} expected")
    return wrong
