"""Commands that write models: load, analyse, vectors, delete; and models, which lists them."""

from __future__ import annotations

import sys

import click

from atlas.cli.options import (
    analysis_options,
    fields_options,
    json_option,
    model_option,
    neo4j_options,
    offline_option,
    quiet_option,
)
from atlas.cli.render import ProgressDisplay, print_json, print_table, say, tell_vectors
from atlas.core.load_options import CorpusOptions, LoadOptions
from atlas.core.units import duration
from atlas.errors import InvalidArgument
from atlas.settings import model_flag


@click.command()
@click.argument("source", required=False)
@fields_options(LoadOptions, "settings")
@click.option(
    "--layer",
    "layers",
    multiple=True,
    help="Load a layer atlas instead: every token's hidden state at layer L (0..the model's blocks), stored as "
    "NAME@L. Repeat it, give a comma list (0,3,6), a range (0-6), or 'all'.",
)
@click.option(
    "--corpus",
    type=click.Path(path_type=str),
    help="Load a corpus atlas instead: the words of this .txt file or folder of .txt files, "
    "with --method's vectors (default name: FOLDER-METHOD).",
)
@fields_options(CorpusOptions, "corpus_settings")
@quiet_option
@neo4j_options
def load(source, settings, layers, corpus, corpus_settings, quiet, atlas):
    """Compute the exact top-k cosine neighbours of every token of SOURCE and store them in Neo4j, then analyse them.

    SOURCE is a Hugging Face model id (e.g. deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B) or a local
    model folder; without it, the bundled all-MiniLM-L6-v2 is loaded. The analysis at the end
    (communities, hubs, mutual pairs, map positions; see `atlas analyse`) is stored in the graph.

    With --layer L, each token is run through the model alone (with its tokenizer's special
    tokens) and its hidden state at layer L takes the place of its input embedding: the
    layer atlas is stored as model NAME@L.

    With --corpus PATH, the words of a text corpus are the tokens and their vectors are
    word2vec's (gensim, CBOW unless --skip-gram, one worker thread so a re-run gives the same
    graph) or the article's TF-IDF over --chunks equal chunks (a word in every chunk has a
    zero vector and no neighbours). `atlas prompt` cuts text into words the same way.
    """
    if corpus is not None and (source or layers):
        raise InvalidArgument(
            "give either SOURCE (a model) or --corpus (a text corpus), not both; --layer needs a model"
        )
    options = LoadOptions(**settings)
    with ProgressDisplay(quiet) as progress:
        said = dict(on_progress=progress, on_note=lambda message: say(message, quiet), on_warning=say)
        if corpus is not None:
            done = [atlas.load_corpus(corpus, options, corpus=CorpusOptions(**corpus_settings), **said)]
        elif layers:
            done = atlas.load_layers(",".join(layers), source, options, **said)
        else:
            done = [atlas.load(source, options, **said)]
    for loaded in done:
        _tell_loaded(loaded)


def _tell_loaded(loaded) -> None:
    report = loaded.report
    say(repr(report) + (" (--replace reloads it)" if report.skipped else ""))
    if report.communities is not None:
        say(f"analysed: {report.communities:,} communities; see every token on one page with:")
        say(f"  atlas map{model_flag(report.name)} -o map.html")
    if report.vectors is not None:
        tell_vectors(report.vectors)
    if loaded.browser_url:
        say(f"Neo4j Browser: {loaded.browser_url}")
        say("Paste this query there:")
    else:
        say("Paste this query into Neo4j Browser:")
    click.echo(loaded.browser_query)


@click.command()
@json_option()
@click.option("--verify", is_flag=True, help="Check that each model's graph is exactly what its load promised.")
@neo4j_options
def models(as_json, verify, atlas):
    """The models stored in Neo4j: counts, load and analysis status, communities and hubness.

    ``hub skew`` is the skewness of the in-degree distribution (how many tokens list a token
    among their k nearest): far above 0 when a few hubs are everybody's neighbour.
    ``untrained`` counts the under-trained candidates `atlas untrained` flagged ("-": not run).
    With --verify, each model's graph is checked against what its load promised.
    """
    found = atlas.models(verify=verify)
    if as_json:
        print_json(found.to_dict())
    elif not found.rows:
        say("no models loaded yet; load one with `atlas load`")
    else:
        print_table(found.headers(), found.text_rows())
    for name, problems in (found.problems or {}).items():
        say(f"{name}: " + ("consistent" if not problems else "; ".join(problems)))
    for name in found.loading:
        say(f"{name}: still loading, not checked")
    if found.inconsistent():
        raise click.ClickException(
            "inconsistent models found; run the same `atlas load` again (with --replace if it was complete) to rewrite them"
        )


@click.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking (needed when stdin is not a terminal).")
@quiet_option
@neo4j_options
def delete(name, yes, quiet, atlas):
    """Delete model NAME from Neo4j: its tokens, edges, variant groups, saved prompts and states, communities,
    comparisons, vector index and node.

    Waits for no one: a model that a load or an analysis is writing is refused, naming it.
    An interrupted delete leaves the model 'deleting'; run the same command again to finish it.
    """
    model = atlas.model(name, allow_incomplete=True)
    what = f"model {name!r} ({model.get('vocab_size', 0):,} tokens, k={model.get('k')}, status {model.get('status')})"
    if not yes:
        if not sys.stdin.isatty():
            raise InvalidArgument(f"not deleting {what} without confirmation: pass --yes")
        click.confirm(f"Delete {what} from {atlas.settings.uri}?", abort=True, err=True)
    with ProgressDisplay(quiet) as progress:
        deleted = atlas.delete(name, on_progress=progress)
    say(f"deleted {what}: {deleted.nodes:,} nodes and their relationships in {duration(deleted.seconds)}", quiet)


@click.command()
@model_option
@click.option("--replace", is_flag=True, help="Write the vectors again even if they are stored already.")
@offline_option
@quiet_option
@neo4j_options
def vectors(model, replace, offline, quiet, atlas):
    """Store each token's unit embedding in Neo4j as `embedding` and create a vector index on it.

    The rows are read from the model's recorded source. Every model's tokens get a label of
    their own and the model a vector index on it (cosine, the model's dimension), named on the
    Model node (`vector_index`), so Neo4j Browser can run nearest-neighbour and arithmetic
    queries (db.index.vector.queryNodes, vector.similarity.cosine). The index is approximate;
    `atlas near` is exact. Refused when Neo4j's page cache or disk cannot hold the vectors.
    """
    with ProgressDisplay(quiet) as progress:
        report = atlas.vectors(model, replace=replace, offline=offline, on_progress=progress)
    tell_vectors(report)
    say("Paste this query into Neo4j Browser for the index's nearest tokens of cat:")
    click.echo(atlas.vectors_query(model, report.index))


@click.command()
@model_option
@analysis_options
@quiet_option
@neo4j_options
def analyse(model, resolution, seed, epochs, quiet, atlas):
    """Compute communities, hubs, mutual pairs and a 2D map of a stored model and store them in its graph.

    Communities are Leiden's on the undirected graph of the neighbour lists: each pair once,
    weighted 2 when each token is among the other's k nearest and 1 otherwise. Each gets a label
    from its most-cited whole words, and (:Community)-[:LINKED]->(:Community) counts the edges
    between them. Every token gets `community`, `cited` (its in-degree) and `x`, `y` (UMAP's
    layout of the exact graph); every edge `mutual`. `atlas load` runs this at its end.
    """
    with ProgressDisplay(quiet) as progress:
        report = atlas.analyse(model, resolution=resolution, seed=seed, epochs=epochs, on_progress=progress)
    say(repr(report))
    say(f"see every token on one page with: atlas map{model_flag(model)} -o map.html")
