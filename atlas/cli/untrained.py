"""The command that finds under-trained (glitch) token candidates: untrained."""

from __future__ import annotations

import click

from atlas.cli.options import json_option, model_option, neo4j_options, offline_option, quiet_option
from atlas.cli.render import ProgressDisplay, show
from atlas.errors import InvalidArgument


def _ids(values: tuple[str, ...]) -> list[int]:
    """Token ids from ``--reference-ids`` values, each one id or several separated by commas."""
    ids = []
    for value in values:
        for part in value.split(","):
            if not part.strip():
                continue
            try:
                ids.append(int(part))
            except ValueError:
                raise InvalidArgument(f"--reference-ids expects token ids like 1,2,3; got {part.strip()!r}") from None
    return ids


def _count(value: str | None) -> int | None:
    """``--verify-top``'s value as a number of candidates (None when not given)."""
    if value is None:
        return None
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise InvalidArgument(
            f"--verify-top expects how many candidates to check, a whole number of at least 1; got {value!r}"
        )
    return count


@click.command()
@model_option
@click.option(
    "--reference-ids",
    "reference_ids",
    multiple=True,
    metavar="IDS",
    help="Ids of tokens known to be unused, comma-separated (repeatable); default: the tokens the tokenizer "
    "declares unused or reserved, else the unreachable ones.",
)
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="How many candidates to show.")
@click.option(
    "--verify-top",
    "verify_top",
    metavar="N",
    help="Check the N highest-scoring candidates with the model itself: ask it to repeat each and store the "
    "probability it gives the token (repeat_probability; low: under-trained). Needs a causal language model; "
    "an encoder such as the bundled MiniLM has no head that predicts tokens.",
)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="cpu",
    show_default=True,
    help="Where the model runs for --verify-top.",
)
@offline_option
@quiet_option
@json_option(
    "Print JSON: {model, categories, reference, reference_size, threshold, candidates, tokens, repeat} "
    "(repeat: {prompt, style, tokens} after --verify-top, else null)."
)
@neo4j_options
def untrained(model, reference_ids, limit, verify_top, device, offline, quiet, as_json, atlas):
    """Find under-trained (glitch) token candidates: categorise and score every token, store both in the graph.

    Each token is decoded alone and encoded again (reachable, unreachable_one,
    unreachable_several, undecodable, special); its embedding row is scored by cosine to the
    mean of the reference rows (see --reference-ids), the first principal component removed.
    Tokens neither special nor in the reference that score in the top 2% of reachable tokens
    are flagged as candidates. Stored as the tokens' category, untrained, untrained_candidate
    and untrained_reference.

    --verify-top N runs the model (a causal language model from its source, float32, on the CPU
    unless --device says otherwise) on a prompt that asks it to repeat each of the N highest
    candidates, with its chat template if its tokenizer has one, and stores the probability it
    gives the token as repeat_probability: under 1% confirms the candidate.
    """
    count = _count(verify_top)
    with ProgressDisplay(quiet or count is None) as progress:
        found = atlas.untrained(
            model,
            reference_ids=_ids(reference_ids),
            limit=limit,
            verify_top=count,
            device=device,
            offline=offline,
            on_progress=progress,
        )
    show(found, as_json)
