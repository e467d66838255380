"""The compare command: how alike two stored models' neighbourhoods are."""

from __future__ import annotations

import click

from atlas.cli.options import json_option, neo4j_options, quiet_option
from atlas.cli.render import ProgressDisplay, print_json, say, tell_written
from atlas.errors import InvalidArgument


@click.command()
@click.argument("a")
@click.argument("b")
@click.option("--k", "k", type=int, help="Nearest tokens compared per token (default: the smaller stored k).")
@click.option("--top", default=10, show_default=True, type=click.IntRange(1), help="Tokens listed per list.")
@json_option("Print the whole summary as JSON.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "html"]),
    default="table",
    show_default=True,
    help="html: the page of --token's two neighbourhoods side by side.",
)
@click.option("--token", help="A token of A (its exact text) whose two neighbourhoods --format html draws.")
@click.option("-o", "--output", default="-", show_default=True, help="File the html page goes to; - for stdout.")
@quiet_option
@neo4j_options
def compare(a, b, k, top, as_json, fmt, token, output, quiet, atlas):
    """Compare stored model A with stored model B: how alike each token's k nearest tokens are in both.

    Tokens are matched by id when both models have the same tokenizer, else by exact text, then
    by variant key. Per token: the Jaccard overlap of its k nearest in A (mapped into B) and in B,
    and their rank-biased overlap (extrapolated, p=0.9; 1 for identical lists). Prints the
    matched counts, the distribution of both overlaps, the tokens that changed most and least and,
    when both models are analysed, which communities held together. The comparison is stored in
    the graph: (:Token)-[:SAME_TOKEN {matched_by, jaccard, rbo, k}]->(:Token) for each matched
    pair and a (:Comparison {a, b, k, mean_jaccard, mean_rbo, ...}) node linked to both models.
    """
    if fmt == "html" and token is None:
        raise InvalidArgument("--format html draws one token's two neighbourhoods: give it with --token")
    if fmt == "html" and as_json:
        raise InvalidArgument("--json prints the summary and --format html writes a page: give one of them")
    if fmt == "html":
        from atlas.files.output import check_writable

        check_writable(output)  # before the comparison is computed and stored
    with ProgressDisplay(quiet) as progress:
        found = atlas.compare(a, b, k=k, top=top, token=token, on_progress=progress)
    if fmt == "html":
        tell_written(found.save(output), quiet=quiet)
    elif as_json:
        print_json(found.to_dict())
    else:
        click.echo(str(found))
    say("stored as SAME_TOKEN links and a Comparison node; see the most changed tokens in Neo4j Browser with:", quiet)
    say(found.browser_query, quiet)
