"""The ``atlas context`` command: a word through a model's layers."""

from __future__ import annotations

import click

from atlas.cli.options import json_option, model_option, neo4j_options, offline_option
from atlas.cli.render import print_json, say, tell_written
from atlas.errors import InvalidArgument


@click.command()
@click.argument("texts", nargs=-1, required=True)
@click.option(
    "--token",
    "word",
    help="Only this word's tokens (each of its pieces); shared by several texts, compared across them.",
)
@click.option(
    "--layers",
    default="all",
    show_default=True,
    help="Layers to show: numbers like 0,3,6, ranges like 0-6 (0: the embedding layer) or all.",
)
@click.option("--k", "k", default=8, show_default=True, type=int, help="Nearest static tokens per state.")
@model_option
@json_option("Print everything as JSON: per text, token and layer its nearest tokens, and the comparisons.")
@click.option(
    "--save", is_flag=True, help="Store the states in Neo4j as (:Context)-[:NEAR]->(:Token) and -[:STATE_OF]->(:Token)."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html"]),
    default="text",
    show_default=True,
    help="html: a page of the per-layer lists and each token's path over the model's map (needs its analysis).",
)
@click.option("-o", "--output", default=None, help="File for --format html; - for stdout.")
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where the model runs.",
)
@offline_option
@neo4j_options
def context(texts, word, layers, k, model, as_json, save, fmt, output, device, offline, atlas):
    """A word through the layers: each token of TEXTS (or --token's) at each layer, with the static tokens nearest
    its hidden state and its cosine to its own static row."""
    if fmt == "html" and not output:
        raise InvalidArgument("--format html writes a page: give -o FILE (or -o - for stdout)")
    if output and fmt != "html":
        raise InvalidArgument("-o is for --format html; the text and --json go to stdout")
    if fmt == "html" and output == "-" and as_json:
        raise InvalidArgument("--json and --format html -o - would both go to stdout; write the page to a file")
    result = atlas.context(
        list(texts),
        model,
        token=word,
        layers=layers,
        k=k,
        save=save,
        page=fmt == "html",
        device=device,
        offline=offline,
    )
    for note in result.notes:
        say(f"note: {note}")
    if fmt == "html":
        tell_written(result.save(output))
    if as_json:
        print_json(result.to_dict())
    elif fmt != "html" or output != "-":
        say(result.title())
        for line in result.lines():
            click.echo(line)
    if result.saved:
        say("saved; see it in Neo4j Browser with:")
        say(result.saved)
