"""Commands that look tokens up: neighbours, variants, tokens, hubs."""

from __future__ import annotations

import click

from atlas.cli.options import collapse_option, json_option, k_option, model_option, neo4j_options, offline_option
from atlas.cli.render import say, show
from atlas.errors import InvalidArgument
from atlas.settings import HUB_MEASURES


@click.command()
@click.argument("token")
@model_option
@k_option(None, "How many (default: all stored, the model's k).")
@click.option("--id", "by_id", is_flag=True, help="TOKEN is a token id, not its text.")
@collapse_option("Hide the token's own variants and show one token per variant group.")
@json_option("Print a JSON list of {id, text, score, rank, community}.")
@neo4j_options
def neighbours(token, model, k, by_id, collapse_variants, as_json, atlas):
    """The nearest tokens of TOKEN (its exact text, e.g. "cat" or " cat"), best first."""
    show(atlas.neighbours(token, model, k=k, by_id=by_id, collapse_variants=collapse_variants), as_json)


@click.command()
@click.argument("word", required=False)
@model_option
@click.option("--rebuild", is_flag=True, help="Recompute the model's variant groups from its stored tokens.")
@json_option()
@neo4j_options
def variants(word, model, rebuild, as_json, atlas):
    """The variant group of WORD: "list", " list", "List", "_list" and "##list" are one word."""
    if not word and not rebuild:
        raise InvalidArgument("give a WORD to list its variant group, or --rebuild to recompute the groups")
    if rebuild:
        count = atlas.rebuild_variants(model)
        say(f"rebuilt the variant groups of {model!r}: {count:,} tokens in groups")
    if word:
        show(atlas.variants(word, model), as_json)


@click.command()
@click.argument("text")
@model_option
@click.option("--special", is_flag=True, help="Add the model's special tokens, as the model would see them.")
@click.option("--components", default=3, show_default=True, type=int, help="Vector components shown at each end.")
@offline_option
@json_option()
@neo4j_options
def tokens(text, model, special, components, offline, as_json, atlas):
    """The token table of TEXT: position, id, token and the first and last vector components."""
    show(atlas.tokens(text, model, special=special, components=components, offline=offline), as_json)


@click.command()
@model_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="How many hubs.")
@click.option("--special", is_flag=True, help="Include special tokens.")
@click.option(
    "--by",
    type=click.Choice(HUB_MEASURES),
    default=HUB_MEASURES[0],
    show_default=True,
    help="Rank by in-degree (cited), PageRank, k-core number (core) or local clustering coefficient.",
)
@json_option()
@neo4j_options
def hubs(model, limit, special, by, as_json, atlas):
    """The most-cited tokens: those the most tokens list among their k nearest (hubs of the kNN graph)."""
    show(atlas.hubs(model, limit=limit, special=special, by=by), as_json)
