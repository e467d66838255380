"""Commands that draw subgraphs and maps: prompt, atlas, near, export, map."""

from __future__ import annotations

import click

from atlas.cli.options import (
    collapse_option,
    export_options,
    json_option,
    k_option,
    model_option,
    neo4j_options,
    offline_option,
    quiet_option,
    table_to_terminal,
)
from atlas.cli.render import ProgressDisplay, emit, say, show, tell_written
from atlas.core.token_text import escape_controls, terminal_text
from atlas.errors import InvalidArgument

NEAR_FORMATS = ("html", "graphml", "json", "csv")  # not cypher: its script would store the expression as a Token


@click.command()
@click.argument("text")
@model_option
@k_option(20, "Nearest tokens per prompt token.")
@click.option("--special", is_flag=True, help="Include the model's special tokens.")
@collapse_option()
@click.option(
    "--save", is_flag=True, help="Store the prompt as (:Prompt)-[:HAS_TOKEN]->(:Token) and print the Browser query."
)
@offline_option
@export_options
@neo4j_options
def prompt(text, model, k, special, collapse_variants, save, offline, fmt, output, atlas):
    """The graph of a prompt: each token of TEXT with its k nearest tokens, and every edge among them."""
    graph = atlas.prompt(
        text, model, k=k, special=special, collapse_variants=collapse_variants, save=save, offline=offline
    )
    emit(graph, fmt, output)
    if graph.saved:
        say("saved; see it in Neo4j Browser with:")
        say(graph.saved)


@click.command("atlas")
@model_option
@click.option("--words", "n_words", default=50, show_default=True, type=int, help="How many random words.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed: the same seed gives the same atlas.")
@click.option(
    "--words-file", type=click.File("r", encoding="utf-8"), help="Use the words in this file (one per line) instead."
)
@k_option(10, "Nearest tokens per word.")
@collapse_option()
@export_options
@neo4j_options
def atlas_command(model, n_words, seed, words_file, k, collapse_variants, fmt, output, atlas):
    """An atlas: N random whole words (or the words of a file), each with its k nearest tokens."""
    words = n_words if words_file is None else [line.strip() for line in words_file if line.strip()]
    graph = atlas.sample(model, words=words, seed=seed, k=k, collapse_variants=collapse_variants)
    if graph.missing:
        say(f"not single tokens of {model}, left out: {', '.join(terminal_text(w) for w in graph.missing)}")
    emit(graph, fmt, output)


@click.command()
@click.argument("expression")
@model_option
@k_option(10, "How many nearest tokens.")
@click.option(
    "--keep-operands", is_flag=True, help="Keep the expression's own tokens in the answer (left out by default)."
)
@offline_option
@json_option("Print JSON: the expression, its operands' tokens and the nearest tokens.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", *NEAR_FORMATS]),
    default="table",
    show_default=True,
    help="table, or a graph: the expression, its nearest tokens and their SIMILAR_TO edges.",
)
@click.option("-o", "--output", default="-", show_default=True, help="File to write the graph to; - for stdout.")
@neo4j_options
@table_to_terminal
def near(expression, model, k, keep_operands, offline, as_json, fmt, output, atlas):
    """The tokens nearest to EXPRESSION, an expression of tokens such as "king - man + woman".

    Operands are words (resolved like `atlas neighbours` does: " king" in byte-level
    vocabularies) or texts in double quotes (a token's exact spelling, or a text of several
    tokens standing for their mean: "artificial intelligence"), each with an optional weight
    (0.5*paris), joined by + and -. The expression is evaluated on unit rows and compared,
    exactly, with every row of the model's embedding matrix; the operands' own tokens are
    left out.
    """
    if as_json and fmt != "table":
        raise InvalidArgument("give --json or --format, not both")
    result = atlas.near(expression, model, k=k, keep_operands=keep_operands, offline=offline, graph=fmt != "table")
    if result.graph is not None:
        emit(result.graph, fmt, output)
        return
    show(result, as_json)


@click.command()
@click.option("--query", "name", required=True, help="A named view from cypher/ (view_<name>.cypher).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter of the view; repeat for more.")
@export_options
@neo4j_options
def export(name, params, fmt, output, atlas):
    """Run a named query from cypher/ and export the subgraph it returns."""
    values = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"--param expects KEY=VALUE, got {item!r}")
        if key in values:
            raise InvalidArgument(f"--param {escape_controls(key)} is given twice; give each parameter once")
        values[key] = value
    emit(atlas.export(name, values), fmt, output)


@click.command("map")
@model_option
@click.option("--format", "fmt", type=click.Choice(["html", "parquet"]), default="html", show_default=True)
@click.option(
    "-o", "--output", required=True, help="File to write (html: one offline page; parquet: for embedding-atlas)."
)
@click.option(
    "--layout",
    type=click.Choice(["umap", "pca"]),
    default="umap",
    show_default=True,
    help="Where tokens go: umap, the analysis's map of the exact graph; pca, the vectors' two principal axes.",
)
@quiet_option
@neo4j_options
def map_command(model, fmt, output, layout, quiet, atlas):
    """A map of every token of an analysed model: one offline page (or a parquet file for embedding-atlas).

    The page draws every token at its map position coloured by community, with community labels,
    search (a typed word flies to its token and highlights its variant group), each token's
    neighbours on click and the Cypher that shows it in Neo4j Browser. `--layout pca` draws the
    vectors' principal plane instead, as the article draws its TF-IDF vectors.
    """
    with ProgressDisplay(quiet) as progress:
        vmap = atlas.map(model, layout=layout, on_progress=progress)
    tell_written(vmap.save(output, fmt), f"{len(vmap):,} tokens, {len(vmap.map.communities):,} communities")
