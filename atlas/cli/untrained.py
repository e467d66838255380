"""The command that finds under-trained (glitch) token candidates: untrained."""

from __future__ import annotations

import click

from atlas.cli.options import json_option, model_option, neo4j_options, offline_option
from atlas.cli.render import show
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
@offline_option
@json_option("Print JSON: {model, categories, reference, reference_size, threshold, candidates, tokens}.")
@neo4j_options
def untrained(model, reference_ids, limit, offline, as_json, atlas):
    """Find under-trained (glitch) token candidates: categorise and score every token, store both in the graph.

    Each token is decoded alone and encoded again (reachable, unreachable_one,
    unreachable_several, undecodable, special); its embedding row is scored by cosine to the
    mean of the reference rows (see --reference-ids), the first principal component removed.
    Tokens neither special nor in the reference that score in the top 2% of reachable tokens
    are flagged as candidates. Stored as the tokens' category, untrained, untrained_candidate
    and untrained_reference.
    """
    show(atlas.untrained(model, reference_ids=_ids(reference_ids), limit=limit, offline=offline), as_json)
