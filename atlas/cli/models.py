"""Commands that write models: load, analyse, vectors, delete; and models, which lists them."""

from __future__ import annotations

import sys

import click

from atlas.cli.options import analysis_options, json_option, model_option, neo4j_options, offline_option, quiet_option
from atlas.cli.render import ProgressDisplay, print_json, print_table, say, tell_vectors
from atlas.core.units import duration
from atlas.errors import InvalidArgument
from atlas.settings import model_flag


@click.command()
@click.argument("source", required=False)
@click.option(
    "--name",
    help="Name to store the model under (default: all-MiniLM-L6-v2 for the bundled model, else the source): "
    "some text, without control characters or spaces at its ends.",
)
@click.option("--k", "k", default=20, show_default=True, type=int, help="Neighbours per token.")
@click.option("--replace", is_flag=True, help="Delete the stored model of that name first, then load.")
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to compute."
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "bfloat16", "auto"]),
    default="float32",
    show_default=True,
    help="float32 is exact; bfloat16 picks candidates at low precision and re-scores them in float32 (can miss a "
    "neighbour: 0.27 % of MiniLM's), faster only on a GPU or a CPU with bfloat16 instructions (elsewhere float32 "
    "is used, and said); auto picks bfloat16 where it is faster, else float32.",
)
@click.option(
    "--batch-size", default=20_000, show_default=True, type=int, help="Tokens or edges per write transaction."
)
@click.option("--block-rows", default=1024, show_default=True, type=int, help="Rows per similarity block.")
@click.option("--max-memory", help="Bound the neighbour computation's working memory, e.g. 2GB (sets --block-rows).")
@offline_option
@click.option(
    "--no-analysis",
    is_flag=True,
    help="Store the graph only; `atlas analyse` adds communities, hubs and the map later.",
)
@click.option(
    "--vectors",
    is_flag=True,
    help="Also store each token's unit embedding and a vector index on it (see `atlas vectors`).",
)
@click.option(
    "--allow-short-matrix",
    is_flag=True,
    help="Load a matrix with fewer rows than the tokenizer has tokens, leaving out the tokens past its end.",
)
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
@click.option(
    "--method",
    default="word2vec",
    show_default=True,
    help="With --corpus: word2vec (gensim's, trained on the corpus) or tfidf (the article's, over --chunks).",
)
@click.option("--min-count", default=5, show_default=True, type=int, help="With --corpus: keep words seen this often.")
@click.option("--chunks", default=10, show_default=True, type=int, help="tfidf: equal chunks taken as documents.")
@click.option("--vector-size", default=100, show_default=True, type=int, help="word2vec: dimensions.")
@click.option("--window", default=5, show_default=True, type=int, help="word2vec: context words either side.")
@click.option("--train-epochs", default=5, show_default=True, type=int, help="word2vec: passes over the corpus.")
@click.option("--skip-gram", is_flag=True, help="word2vec: skip-gram instead of CBOW.")
@click.option("--train-seed", default=0, show_default=True, type=int, help="word2vec: seed of the training.")
@analysis_options
@quiet_option
@neo4j_options
def load(
    source,
    name,
    k,
    replace,
    device,
    dtype,
    batch_size,
    block_rows,
    max_memory,
    offline,
    no_analysis,
    vectors,
    allow_short_matrix,
    layers,
    corpus,
    method,
    min_count,
    chunks,
    vector_size,
    window,
    train_epochs,
    skip_gram,
    train_seed,
    resolution,
    seed,
    epochs,
    quiet,
    atlas,
):
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
    with ProgressDisplay(quiet) as progress:
        options = dict(
            name=name,
            k=k,
            replace=replace,
            device=device,
            dtype=dtype,
            batch_size=batch_size,
            block_rows=block_rows,
            max_memory=max_memory,
            offline=offline,
            analyse=not no_analysis,
            resolution=resolution,
            seed=seed,
            epochs=epochs,
            vectors=vectors,
            allow_short_matrix=allow_short_matrix,
            on_progress=progress,
            on_note=lambda message: say(message, quiet),
            on_warning=say,
        )
        if corpus is not None:
            for key in ("offline", "allow_short_matrix"):
                options.pop(key)
            done = [
                atlas.load_corpus(
                    corpus,
                    method=method,
                    min_count=min_count,
                    chunks=chunks,
                    vector_size=vector_size,
                    window=window,
                    train_epochs=train_epochs,
                    skip_gram=skip_gram,
                    train_seed=train_seed,
                    **options,
                )
            ]
        elif layers:
            done = atlas.load_layers(",".join(layers), source, **options)
        else:
            done = [atlas.load(source, **options)]
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
