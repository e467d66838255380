"""The ``atlas`` command: parses options, calls the library, prints. Data on stdout, messages on stderr."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import sys
import time
from pathlib import Path

import click

from atlas import __version__
from atlas.core.token_text import escape_controls, terminal_text
from atlas.errors import AtlasError
from atlas.settings import BOLT_PORT, DEFAULT_MODEL, EPOCHS, EXPORT_FORMATS, HTTP_PORT, RESOLUTION, Settings, default_home, password_file

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class AtlasGroup(click.Group):
    """Turns every library error into one line on stderr and exit status 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AtlasError as exc:
            raise click.ClickException(str(exc)) from None

    def resolve_command(self, ctx, args):
        from atlas.cli.guard import guarded

        name, command, rest = super().resolve_command(ctx, args)
        return name, guarded(command) if command is not None else None, rest


def say(message: str, quiet: bool = False) -> None:
    """A message for the user, on stderr."""
    if not quiet:
        click.echo(message, err=True)


def home_option(command):
    return click.option(
        "--home",
        envvar="ATLAS_NEO4J_HOME",
        type=click.Path(file_okay=False, path_type=Path),
        default=default_home(),
        show_default=True,
        help="Folder of the local Neo4j server: its jars, configuration, data, logs and password file.",
    )(command)


def neo4j_options(command):
    """``--uri/--user/--password/--database/--home``, also from NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD,
    NEO4J_DATABASE, ATLAS_NEO4J_HOME. Without a password, the local server's password file is read."""
    defaults = Settings()

    @click.option("--uri", envvar="NEO4J_URI", default=defaults.uri, show_default=True, help="Neo4j Bolt URI.")
    @click.option("--user", envvar="NEO4J_USER", default=defaults.user, show_default=True, help="Neo4j user.")
    @click.option(
        "--password",
        envvar="NEO4J_PASSWORD",
        help="Neo4j password. [default: for the local server, the one `atlas db start` keeps in HOME/password]",
    )
    @click.option(
        "--database", envvar="NEO4J_DATABASE", default=defaults.database, show_default=True, help="Neo4j database."
    )
    @home_option
    @functools.wraps(command)
    def wrapper(*args, uri, user, password, database, home, **kwargs):
        return command(*args, settings=connection_settings(uri, user, password, database, home), **kwargs)

    return wrapper


def connection_settings(uri: str, user: str, password: str | None, database: str, home: Path) -> Settings:
    """The settings for ``uri``; without a password, the one kept for the local server of ``home``, if ``uri`` is it."""
    from atlas.server import local as neo4j_local
    from atlas.graph.store import check_uri

    check_uri(uri)
    if not password:  # an empty NEO4J_PASSWORD counts as none
        password = neo4j_local.password_for(uri, home)
    local_home = Path(home).expanduser().resolve() if neo4j_local.serves(home, uri) else None
    return Settings(uri, user, password, database, local_home)


def analysis_options(command):
    """``--resolution``, ``--seed`` and ``--epochs`` of the analysis (load and analyse)."""
    command = click.option("--epochs", default=EPOCHS, show_default=True, type=int, help="UMAP layout epochs.")(command)
    command = click.option("--seed", default=0, show_default=True, type=int, help="Seed of communities and layout.")(command)
    return click.option(
        "--resolution", default=RESOLUTION, show_default=True, type=float,
        help="Leiden resolution: higher gives more, smaller communities.",
    )(command)


def model_option(command):
    return click.option(
        "--model", "-m", envvar="ATLAS_MODEL", default=DEFAULT_MODEL, show_default=True, help="Stored model name."
    )(command)


def open_store(settings):
    from atlas.graph.store import Store

    return Store(settings)


def print_table(headers: list[str], rows: list[list]) -> None:
    """A plain aligned table on stdout."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for row in cells:
        click.echo("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


@click.group(cls=AtlasGroup, context_settings=CONTEXT)
@click.version_option(__version__, prog_name="atlas")
@click.option("--verbose", is_flag=True, help="Show the Neo4j driver's log on stderr (connections, retries).")
@click.pass_context
def main(ctx, verbose):
    """token atlas: the exact nearest-neighbour graph of a language model's token embeddings, in Neo4j."""
    driver_log(ctx, verbose)


class EchoHandler(logging.Handler):
    """Log records as lines on the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        click.echo(self.format(record), err=True)


def driver_log(ctx: click.Context, verbose: bool) -> None:
    """The Neo4j driver logs warnings (each retried transaction, for one); show its log only with --verbose.

    Without a handler of its own, Python would print the driver's warnings on stderr.
    """
    log = logging.getLogger("neo4j")
    if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
        log.addHandler(logging.NullHandler())
    if verbose:
        handler, level = EchoHandler(), log.level
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.DEBUG)

        def restore():
            log.removeHandler(handler)
            log.setLevel(level)

        ctx.call_on_close(restore)


# -- load ---------------------------------------------------------------------------------
@main.command()
@click.argument("source", required=False)
@click.option("--name", help="Name to store the model under (default: all-MiniLM-L6-v2 for the bundled model, else the source).")
@click.option("--k", "k", default=20, show_default=True, type=int, help="Neighbours per token.")
@click.option("--replace", is_flag=True, help="Delete the stored model of that name first, then load.")
@click.option(
    "--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True, help="Where to compute."
)
@click.option(
    "--dtype",
    type=click.Choice(["float32", "bfloat16"]),
    default="float32",
    show_default=True,
    help="float32 is exact; bfloat16 picks candidates at low precision and re-scores them in float32 (faster, near-exact).",
)
@click.option("--batch-size", default=20_000, show_default=True, type=int, help="Tokens or edges per write transaction.")
@click.option("--block-rows", default=1024, show_default=True, type=int, help="Rows per similarity block.")
@click.option("--max-memory", help="Bound the neighbour computation's working memory, e.g. 2GB (sets --block-rows).")
@click.option("--offline", is_flag=True, envvar="HF_HUB_OFFLINE", help="Use only the local Hugging Face cache.")
@click.option("--no-analysis", is_flag=True, help="Store the graph only; `atlas analyse` adds communities, hubs and the map later.")
@click.option("--vectors", is_flag=True, help="Also store each token's unit embedding and a vector index on it (see `atlas vectors`).")
@click.option(
    "--allow-short-matrix", is_flag=True,
    help="Load a matrix with fewer rows than the tokenizer has tokens, leaving out the tokens past its end.",
)
@analysis_options
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@neo4j_options
def load(
    source, name, k, replace, device, dtype, batch_size, block_rows, max_memory, offline, no_analysis, vectors,
    allow_short_matrix, resolution, seed, epochs, quiet, settings,
):
    """Compute the exact top-k cosine neighbours of every token of SOURCE and store them in Neo4j, then analyse them.

    SOURCE is a Hugging Face model id (e.g. deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B) or a local
    model folder; without it, the bundled all-MiniLM-L6-v2 is loaded. The analysis at the end
    (communities, hubs, mutual pairs, map positions; see `atlas analyse`) is stored in the graph.
    """
    from atlas.loaders import load_embedding_table
    from atlas.loaders.pipeline import AnalysisSettings
    from atlas.loaders.pipeline import load as run_load

    from atlas.views.lookup import word_texts
    from atlas.files.model_files import BUNDLED
    from atlas.core.topk import block_rows_for_memory
    from atlas.graph.queries import browser_line

    with open_store(settings) as store:
        table = load_embedding_table(source or BUNDLED, name=name, offline=offline, allow_short_matrix=allow_short_matrix)
        if table.unmatched:
            say(
                f"warning: the tokenizer has {table.unmatched:,} tokens past the matrix's {table.matrix_rows:,} rows; "
                "they have no vectors and are not stored"
            )
        if max_memory:
            block_rows = block_rows_for_memory(len(table), table.dim, parse_bytes(max_memory), k)
        say(f"{len(table):,} tokens x {table.dim} dims ({table.family}); k={k}, {dtype}", quiet)
        with ProgressDisplay(quiet) as progress:
            report = run_load(
                store,
                table,
                k,
                replace=replace,
                device=device,
                dtype=dtype,
                block_rows=block_rows,
                batch_size=batch_size,
                analyse=None if no_analysis else AnalysisSettings(resolution, seed, epochs),
                vectors=vectors,
                on_progress=progress,
            )
        browser = store.browser_url()
    if report.skipped:
        say(f"model {report.name!r} is already loaded with these settings; nothing to do (--replace reloads it)")
    else:
        say(
            f"stored {report.name!r}: {report.tokens:,} tokens, {report.edges:,} SIMILAR_TO edges, "
            f"{report.variants:,} tokens in variant groups, in {report.seconds:.1f} s ({report.device})"
        )
    if report.communities is not None:
        say(f"analysed: {report.communities:,} communities; see every token on one page with:")
        say(f"  atlas map{model_flag(report.name)} -o map.html")
    if report.vectors is not None:
        tell_vectors(report.vectors)
    if browser:
        say(f"Neo4j Browser: {browser}")
        say("Paste this query there:")
    else:
        say("Paste this query into Neo4j Browser:")
    cat = word_texts("cat", table.family)[0]  # " cat" where word-start tokens carry a space
    click.echo(browser_line("browser_neighbours", model=report.name, text=cat))


def tell_vectors(report) -> None:
    """The notes and the outcome of storing a model's vectors, on stderr."""
    for note in report.notes:
        say(f"note: {note}")
    if report.skipped:
        say(f"the vectors of {report.name!r} are stored already (vector index {report.index}); nothing to do (--replace rewrites them)")
    else:
        zero = f" ({report.zero:,} zero rows have none)" if report.zero else ""
        say(f"stored {report.stored:,} vectors of {report.name!r}{zero} and the vector index {report.index} in {report.seconds:.1f} s")


def model_flag(name: str) -> str:
    """`` --model NAME`` for a command line, quoted for a shell when needed; nothing for the default model."""
    import shlex

    return "" if name == DEFAULT_MODEL else f" --model {shlex.quote(name)}"


def parse_bytes(text: str) -> int:
    """'2GB', '512MiB', '3g' -> bytes."""
    import re

    from atlas.errors import InvalidArgument

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", text, re.IGNORECASE)
    if not match:
        raise InvalidArgument(f"cannot read {text!r} as a memory size; write it like 2GB or 512MB")
    power = " kmgt".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * 1024**power)


class ProgressDisplay:
    """Shows the library's ``(stage, done, stage total)`` calls on stderr.

    On a terminal, a bar per stage that counts; otherwise (a log file, a pipe) one plain
    line every ``interval`` seconds: stage, done/total, rate and time left. A stage
    without a count (total 0 or 1: communities, layout) is announced when it starts.
    Each stage's time is reported under its own name when it ends. ``quiet`` shows nothing.
    """

    def __init__(self, quiet: bool, stream=None, interval: float = 5.0):
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval
        self.stage: str | None = None
        self.bar = None

    def __call__(self, stage: str, n: int, total: int) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if stage != self.stage:
            self.close()
            self.stage, self.done, self.total, self.began, self.shown = stage, 0, total, now, now
            if total > 1 and self.tty:
                self.bar = click.progressbar(length=total, label=f"{stage:<10}", file=self.stream)
                self.bar.__enter__()
            elif total <= 1:
                click.echo(f"{stage} ...", file=self.stream)
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif now - self.shown >= self.interval:
            self.shown = now
            click.echo(self.line(now), file=self.stream)

    def line(self, now: float) -> str:
        """``neighbours  45,056/151,665 (29.7 %)  1,210/s  1 min 28 s left``, or ``layout  running for 25.0 s``."""
        seconds = max(now - self.began, 1e-9)
        if self.total <= 1:
            return f"{self.stage}  running for {duration(seconds)}" + (f", {self.done:,} so far" if self.done > 1 else "")
        rate = self.done / seconds
        left = (self.total - self.done) / rate if rate > 0 else float("inf")
        return (
            f"{self.stage}  {self.done:,}/{self.total:,} ({100 * self.done / self.total:.1f} %)  {rate:,.0f}/s  "
            f"{duration(left) if left != float('inf') else '?'} left"
        )

    def close(self) -> None:
        if self.stage is None:
            return
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None
        took = duration(time.monotonic() - self.began)
        counted = self.total > 1 or self.done > 1
        click.echo(f"{self.stage}: {self.done:,} in {took}" if counted else f"{self.stage}: {took}", file=self.stream)
        self.stage = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        elif self.bar is not None:
            self.bar.__exit__(*exc)


def duration(seconds: float) -> str:
    """``4.2 s``, ``1 min 28 s``, ``2 h 05 min``.

    >>> duration(4.21), duration(88), duration(7500)
    ('4.2 s', '1 min 28 s', '2 h 05 min')
    """
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


# -- neighbours, models ---------------------------------------------------------------------
@main.command()
@click.argument("token")
@model_option
@click.option("--k", "k", type=int, help="How many (default: all stored, the model's k).")
@click.option("--id", "by_id", is_flag=True, help="TOKEN is a token id, not its text.")
@click.option("--collapse-variants", is_flag=True, help="Hide the token's own variants and show one token per variant group.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of {id, text, score, rank, community}.")
@neo4j_options
def neighbours(token, model, k, by_id, collapse_variants, as_json, settings):
    """The nearest tokens of TOKEN (its exact text, e.g. "cat" or " cat"), best first."""
    from atlas.views.lookup import find_token, find_token_by_id
    from atlas.views.stored_neighbours import neighbours as nearest

    with open_store(settings) as store:
        stored = store.require_model(model)
        found = find_token_by_id(store, model, parse_id(token)) if by_id else find_token(store, model, token)
        rows = nearest(store, model, found["id"], stored["k"] if k is None else k, collapse_variants=collapse_variants)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    say(f"nearest tokens of {terminal_text(found['text'])} (id {found['id']}) in {model}:")
    analysed = stored.get("analysis") == "complete"
    print_table(
        ["rank", "id", "score", "token"] + (["community"] if analysed else []),
        [
            [r["rank"], r["id"], f"{r['score']:.4f}", terminal_text(r["text"])]
            + ([terminal_text(r["community"] or "-")] if analysed else [])
            for r in rows
        ],
    )


def parse_id(text: str) -> int:
    from atlas.errors import InvalidArgument

    try:
        return int(text)
    except ValueError:
        raise InvalidArgument(f"--id expects a whole number, got {text!r}") from None


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--verify", is_flag=True, help="Check that each model's graph is exactly what its load promised.")
@neo4j_options
def models(as_json, verify, settings):
    """The models stored in Neo4j: counts, load and analysis status, communities and hubness.

    ``hub skew`` is the skewness of the in-degree distribution (how many tokens list a token
    among their k nearest): far above 0 when a few hubs are everybody's neighbour.
    With --verify, each model's graph is checked against what its load promised.
    """
    with open_store(settings) as store:
        rows = store.models()
        checked = verified(store, [m["model"]["name"] for m in rows]) if verify else {}
    if as_json:
        out = [
            {**r["model"], "tokens": r["tokens"], "edges": r["edges"], "variant_groups": r["variants"]}
            | ({"problems": checked[r["model"]["name"]]} if verify else {})
            for r in rows
        ]
        click.echo(json.dumps(out, ensure_ascii=False, indent=2))
    elif not rows:
        say("no models loaded yet; load one with `atlas load`")
    else:
        print_table(
            ["name", "status", "tokens", "edges", "k", "dim", "dtype", "variant groups", "analysis", "communities",
             "hub skew", "source"],
            [
                [m["model"]["name"], m["model"].get("status"), f"{m['tokens']:,}", f"{m['edges']:,}", m["model"].get("k"),
                 m["model"].get("dim"), m["model"].get("dtype"), f"{m['variants']:,}", m["model"].get("analysis") or "-",
                 _count(m["model"].get("communities")), _figure(m["model"].get("cited_skewness")), m["model"].get("source")]
                for m in rows
            ],
        )
    for name, found in checked.items():
        say(f"{name}: " + ("consistent" if not found else "; ".join(found)))
    if any(checked.values()):
        raise click.ClickException(
            "inconsistent models found; run the same `atlas load` again (with --replace if it was complete) to rewrite them"
        )


@main.command()
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="Delete without asking (needed when stdin is not a terminal).")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@neo4j_options
def delete(name, yes, quiet, settings):
    """Delete model NAME from Neo4j: its tokens, edges, variant groups, prompts, communities, vector index and node.

    Waits for no one: a model that a load or an analysis is writing is refused, naming it.
    An interrupted delete leaves the model 'deleting'; run the same command again to finish it.
    """
    from atlas.errors import InvalidArgument
    from atlas.graph.lease import Lease

    began = time.perf_counter()
    with open_store(settings) as store:
        model = store.require_model(name, allow_incomplete=True)
        what = f"model {name!r} ({model.get('vocab_size', 0):,} tokens, k={model.get('k')}, status {model.get('status')})"
        if not yes:
            if not sys.stdin.isatty():
                raise InvalidArgument(f"not deleting {what} without confirmation: pass --yes")
            click.confirm(f"Delete {what} from {settings.uri}?", abort=True, err=True)
        with Lease(store, name), ProgressDisplay(quiet) as progress:
            store.write("model_mark_deleting", name=name)
            nodes = store.delete_model(name, done=lambda n: progress("delete", n, 0))
    say(f"deleted {what}: {nodes:,} nodes and their relationships in {duration(time.perf_counter() - began)}", quiet)


def verified(store, names: list[str]) -> dict[str, list[str]]:
    """What is wrong with each model; a model deleted since it was listed is left out."""
    from atlas.errors import ModelNotLoaded
    from atlas.graph.verify import problems

    found = {}
    for name in names:
        try:
            found[name] = problems(store, name)
        except ModelNotLoaded:
            continue
    return found


def _count(value) -> str:
    return "-" if value is None else f"{value:,}"


def _figure(value) -> str:
    return "-" if value is None else f"{value:.2f}"


@main.command()
@model_option
@click.option("--replace", is_flag=True, help="Write the vectors again even if they are stored already.")
@click.option("--offline", is_flag=True, envvar="HF_HUB_OFFLINE", help="Use only the local Hugging Face cache.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@neo4j_options
def vectors(model, replace, offline, quiet, settings):
    """Store each token's unit embedding in Neo4j as `embedding` and create a vector index on it.

    The rows are read from the model's recorded source. Every model's tokens get a label of
    their own and the model a vector index on it (cosine, the model's dimension), named on the
    Model node (`vector_index`), so Neo4j Browser can run nearest-neighbour and arithmetic
    queries (db.index.vector.queryNodes, vector.similarity.cosine). The index is approximate;
    `atlas near` is exact. Refused when Neo4j's page cache or disk cannot hold the vectors.
    """
    from atlas.views.lookup import word_texts
    from atlas.graph.queries import browser_line
    from atlas.graph.vectors import store_vectors_from_source

    with open_store(settings) as store, ProgressDisplay(quiet) as progress:
        props = store.require_model(model)
        with recorded_source(model, props):
            report = store_vectors_from_source(store, model, offline=offline, replace=replace, on_progress=progress)
    tell_vectors(report)
    say("Paste this query into Neo4j Browser for the index's nearest tokens of cat:")
    cat = word_texts("cat", props.get("family", "other"))[0]
    click.echo(browser_line("browser_vectors", model=model, index=report.index, text=cat))


# -- analysis: analyse, hubs, map --------------------------------------------------------------
@main.command()
@model_option
@analysis_options
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@neo4j_options
def analyse(model, resolution, seed, epochs, quiet, settings):
    """Compute communities, hubs, mutual pairs and a 2D map of a stored model and store them in its graph.

    Communities are Leiden's on the exact graph (weighted by cosine); each gets a label from
    its most-cited whole words and (:Community)-[:LINKED]->(:Community) counts the edges between
    them. Every token gets `community`, `cited` (its in-degree) and `x`, `y` (UMAP's layout of the
    exact graph); every edge `mutual`. `atlas load` runs this at its end.
    """
    from atlas.loaders.analyse import analyse_stored

    with open_store(settings) as store, ProgressDisplay(quiet) as progress:
        report = analyse_stored(store, model, resolution, seed, epochs, on_progress=progress)
    say(
        f"analysed {model!r}: {report.tokens:,} tokens in {report.communities:,} communities "
        f"(modularity {report.modularity:.3f}), in-degree skewness {report.cited_skewness:.2f}, in {report.seconds:.1f} s"
    )
    say(f"see every token on one page with: atlas map{model_flag(model)} -o map.html")


@main.command()
@model_option
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1), help="How many hubs.")
@click.option("--special", is_flag=True, help="Include special tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@neo4j_options
def hubs(model, limit, special, as_json, settings):
    """The most-cited tokens: those the most tokens list among their k nearest (hubs of the kNN graph)."""
    from atlas.errors import AnalysisMissing

    with open_store(settings) as store:
        props = store.require_model(model)
        if props.get("analysis") != "complete":
            raise AnalysisMissing(f"model {model!r} has no analysis yet; run `atlas analyse{model_flag(model)}`")
        rows = store.read("hubs", model=model, limit=limit, skip_special=not special)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    say(f"the {len(rows)} most-cited tokens of {model} (k={props['k']}; in-degree skewness {_figure(props.get('cited_skewness'))}):")
    print_table(
        ["cited", "id", "token", "community"],
        [[f"{r['cited']:,}", r["id"], terminal_text(r["text"]), terminal_text(r["label"] or "-")] for r in rows],
    )


@main.command("map")
@model_option
@click.option("--format", "fmt", type=click.Choice(["html", "parquet"]), default="html", show_default=True)
@click.option("-o", "--output", required=True, help="File to write (html: one offline page; parquet: for embedding-atlas).")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@neo4j_options
def map_command(model, fmt, output, quiet, settings):
    """A map of every token of an analysed model: one offline page (or a parquet file for embedding-atlas).

    The page draws every token at its map position coloured by community, with community labels,
    search (a typed word flies to its token and highlights its variant group), each token's
    neighbours on click and the Cypher that shows it in Neo4j Browser.
    """
    from atlas.files.output import write_output
    from atlas.views.vocabulary import read_map
    from atlas.pages.map_page import render

    with open_store(settings) as store, ProgressDisplay(quiet) as progress:
        props = store.require_model(model)
        vmap = read_map(store, model, done=lambda n: progress("read", n, int(props.get("vocab_size", 0))))
    data = render(vmap, fmt)
    write_output(output, data)
    say(f"wrote {output} ({len(data) / 2**20:.1f} MB: {len(vmap.ids):,} tokens, {len(vmap.communities):,} communities)")


# -- db -----------------------------------------------------------------------------------------
@main.group(cls=AtlasGroup)
def db():
    """Run a local Neo4j Community server from Maven Central jars (no Docker needed)."""


@db.command("start")
@home_option
@click.option(
    "--password",
    envvar="NEO4J_PASSWORD",
    help="Password for user neo4j. [default: at the first start a random one, kept in HOME/password; then that one]",
)
@click.option("--bolt-port", default=BOLT_PORT, show_default=True, type=int)
@click.option("--http-port", default=HTTP_PORT, show_default=True, type=int)
@click.option("--heap", default="2g", show_default=True, help="JVM heap size.")
@click.option("--pagecache", default="2g", show_default=True, help="Page cache size.")
def db_start(home, password, bolt_port, http_port, heap, pagecache):
    """Download (once), configure and start Neo4j in the background; reuses a running one."""
    from atlas.server import local as neo4j_local

    server, started = neo4j_local.start(
        home, password=password or None, bolt_port=bolt_port, http_port=http_port, heap=heap, pagecache=pagecache, say=say
    )
    if started:
        say(f"Neo4j started (pid {server.pid}); logs in {server.log_path.parent}")
    say(f"Bolt: {server.bolt_uri}   Browser: {server.browser_url}   user: neo4j")
    say(password_line(server.home))


@db.command("stop")
@home_option
def db_stop(home):
    """Stop the Neo4j server that `atlas db start` started."""
    from atlas.server import local as neo4j_local

    say("Neo4j stopped" if neo4j_local.stop(home) else f"no Neo4j started from {home} is running")


@db.command("status")
@home_option
def db_status(home):
    """Say whether the local Neo4j server runs, and where."""
    from atlas.server import local as neo4j_local

    server = neo4j_local.status(home)
    if server is None:
        raise click.ClickException(f"no Neo4j started from {home} is running; start it with `atlas db start`")
    kept = neo4j_local.saved_password(server.home) is not None
    click.echo(
        f"running  pid {server.pid}  {server.bolt_uri}  {server.browser_url}  logs {server.log_path}  "
        f"password {password_file(server.home) if kept else '(not kept)'}"
    )
    if not kept:
        say(password_line(server.home))


def password_line(home: Path) -> str:
    """Where the password of the local server of ``home`` is, or how to give one."""
    from atlas.server import local as neo4j_local

    if neo4j_local.saved_password(home) is None:
        return (
            f"password: not kept ({password_file(home)} does not exist); give it with --password or NEO4J_PASSWORD, "
            "or replace it with a private one with `atlas db password --new`"
        )
    return f"password: in {password_file(home)} (user-only); `atlas db password` prints it"


@db.command("password")
@home_option
@click.option("--new", is_flag=True, help="Replace the password with a new random one, on the running server and in the file.")
@click.option(
    "--password",
    "current",
    envvar="NEO4J_PASSWORD",
    help="The current password, for --new. [default: the one in HOME/password]",
)
def db_password(home, new, current):
    """Print the local server's password (for Neo4j Browser), kept by `atlas db start` in HOME/password."""
    from atlas.server import local as neo4j_local

    if new:
        neo4j_local.change_password(home, current or None)
        say(f"Neo4j has a new password for user neo4j, kept in {password_file(Path(home).expanduser().resolve())}")
        return
    password = neo4j_local.saved_password(home)
    if password is None:
        from atlas.errors import PasswordMissing

        raise PasswordMissing(
            f"{password_file(home)} does not exist: start the server with `atlas db start` (the first start makes "
            "one), or, for a home set up before token atlas kept its password, run `atlas db password --new` "
            "with its password in --password or NEO4J_PASSWORD"
        )
    click.echo(password)


# -- variants -------------------------------------------------------------------------------------
@main.command()
@click.argument("word", required=False)
@model_option
@click.option("--rebuild", is_flag=True, help="Recompute the model's variant groups from its stored tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@neo4j_options
def variants(word, model, rebuild, as_json, settings):
    """The variant group of WORD: "list", " list", "List", "_list" and "##list" are one word."""
    from atlas.errors import InvalidArgument
    from atlas.views.lookup import variant_group
    from atlas.graph.writes import rebuild_variants

    if not word and not rebuild:
        raise InvalidArgument("give a WORD to list its variant group, or --rebuild to recompute the groups")
    with open_store(settings) as store:
        if rebuild:
            count = rebuild_variants(store, model)
            say(f"rebuilt the variant groups of {model!r}: {count:,} tokens in groups")
        if not word:
            return
        group = variant_group(store, model, word)
    if as_json:
        click.echo(json.dumps(group, ensure_ascii=False, indent=2))
        return
    say(f"variant group {terminal_text(group['key'])} of {model}: {len(group['tokens'])} tokens")
    print_table(["id", "token", "raw"], [[t["id"], terminal_text(t["text"]), terminal_text(t["raw"])] for t in group["tokens"]])


# -- tokens, prompt, atlas, export -------------------------------------------------------------------
def tokenizer_of(store, model: str, offline: bool):
    """The stored model's properties and the tokenizer it was loaded from."""
    from atlas.files.model_files import read_tokenizer

    props = store.require_model(model)
    with recorded_source(model, props):
        return props, read_tokenizer(props["source"], offline=offline)


@contextlib.contextmanager
def recorded_source(model: str, props: dict):
    """Turn a failure to read the model's recorded source into a line that says how to get it back."""
    from atlas.errors import SourceNotFound

    try:
        yield
    except SourceNotFound:
        raise SourceNotFound(
            f"model {model!r} was loaded from {props['source']!r}, which cannot be read now; put the model back "
            f"there, or load it again from where it is with `atlas load SOURCE --name {model} --replace`"
        ) from None


@main.command()
@click.argument("text")
@model_option
@click.option("--special", is_flag=True, help="Add the model's special tokens, as the model would see them.")
@click.option("--components", default=3, show_default=True, type=int, help="Vector components shown at each end.")
@click.option("--offline", is_flag=True, envvar="HF_HUB_OFFLINE", help="Use only the local Hugging Face cache.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@neo4j_options
def tokens(text, model, special, components, offline, as_json, settings):
    """The token table of TEXT: position, id, token and the first and last vector components."""
    from atlas.errors import InvalidArgument
    from atlas.files.model_files import read_rows
    from atlas.core.prompt_tokens import token_table, tokenize

    with open_store(settings) as store:
        props, tokenizer = tokenizer_of(store, model, offline)
    pieces = tokenize(tokenizer, text, include_special=special, family=props.get("family"))
    if not pieces:
        raise InvalidArgument("the text has no tokens; give some text")
    vectors = read_rows(props["source"], [t.id for t in pieces], offline=offline, name=props.get("embedding_tensor"))
    rows = token_table(pieces, vectors, edge=components)
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    say(f"{len(rows)} tokens of {terminal_text(text)} in {model} ({props['dim']} dimensions):")
    print_table(
        ["position", "id", "token", f"embedding vector ({props['dim']} dimensions)"],
        [
            [r["position"], r["id"], terminal_text(r["token"]),
             ", ".join(f"{x:.6f}" for x in r["first"]) + " ... " + ", ".join(f"{x:.6f}" for x in r["last"])]
            for r in rows
        ],
    )


def export_options(command):
    """``--format`` and ``-o``, shared by prompt, atlas and export."""

    command = click.option(
        "-o", "--output", default="-", show_default=True, help="File to write; - for stdout. csv writes NAME.nodes.csv and NAME.edges.csv."
    )(command)
    return click.option("--format", "fmt", type=click.Choice(["table", *EXPORT_FORMATS]), default="table", show_default=True)(command)


def emit(subgraph, fmt: str, output: str) -> None:
    """Write a subgraph as a table on stdout or through an exporter."""
    from atlas.pages.export import write

    if fmt == "table":
        texts = {n.id: n.text for n in subgraph.nodes}
        say(f"{escape_controls(subgraph.title)}: {len(subgraph.nodes)} tokens, {len(subgraph.edges)} edges")
        print_table(
            ["source", "rank", "score", "target"],
            [[terminal_text(texts[e.source]), e.rank, f"{e.score:.4f}", terminal_text(texts[e.target])]
             for e in subgraph.edges],
        )
        return
    paths = write(subgraph, fmt, output, stdout=sys.stdout)
    for path in paths:
        say(f"wrote {path} ({len(subgraph.nodes)} tokens, {len(subgraph.edges)} edges)")


@main.command()
@click.argument("text")
@model_option
@click.option("--k", "k", default=20, show_default=True, type=int, help="Nearest tokens per prompt token.")
@click.option("--special", is_flag=True, help="Include the model's special tokens.")
@click.option("--collapse-variants", is_flag=True, help="Draw each variant group as one node.")
@click.option("--save", is_flag=True, help="Store the prompt as (:Prompt)-[:HAS_TOKEN]->(:Token) and print the Browser query.")
@click.option("--offline", is_flag=True, envvar="HF_HUB_OFFLINE", help="Use only the local Hugging Face cache.")
@export_options
@neo4j_options
def prompt(text, model, k, special, collapse_variants, save, offline, fmt, output, settings):
    """The graph of a prompt: each token of TEXT with its k nearest tokens, and every edge among them."""
    from atlas.core.prompt_tokens import tokenize
    from atlas.views.neighbourhoods import prompt_subgraph
    from atlas.graph.writes import save_prompt

    with open_store(settings) as store:
        props, tokenizer = tokenizer_of(store, model, offline)
        pieces = tokenize(tokenizer, text, include_special=special, family=props.get("family"))
        subgraph = prompt_subgraph(store, model, pieces, k, collapse_variants=collapse_variants, title=f"prompt {text!r}")
        saved = save_prompt(store, model, text, pieces) if save else None
    emit(subgraph, fmt, output)
    if saved:
        say("saved; see it in Neo4j Browser with:")
        say(saved)


@main.command("atlas")
@model_option
@click.option("--words", "n_words", default=50, show_default=True, type=int, help="How many random words.")
@click.option("--seed", default=0, show_default=True, type=int, help="Random seed: the same seed gives the same atlas.")
@click.option("--words-file", type=click.File("r", encoding="utf-8"), help="Use the words in this file (one per line) instead.")
@click.option("--k", "k", default=10, show_default=True, type=int, help="Nearest tokens per word.")
@click.option("--collapse-variants", is_flag=True, help="Draw each variant group as one node.")
@export_options
@neo4j_options
def atlas_command(model, n_words, seed, words_file, k, collapse_variants, fmt, output, settings):
    """An atlas: N random whole words (or the words of a file), each with its k nearest tokens."""
    from atlas.views.neighbourhoods import atlas_subgraph

    words = None
    if words_file is not None:
        words = [line.strip() for line in words_file if line.strip()]
    with open_store(settings) as store:
        subgraph, missing = atlas_subgraph(store, model, words, n_words, seed, k, collapse_variants=collapse_variants)
    if missing:
        say(f"not single tokens of {model}, left out: {', '.join(terminal_text(w) for w in missing)}")
    emit(subgraph, fmt, output)


NEAR_FORMATS = ("html", "graphml", "json", "csv")  # not cypher: its script would store the expression as a Token


@main.command()
@click.argument("expression")
@model_option
@click.option("--k", "k", default=10, show_default=True, type=int, help="How many nearest tokens.")
@click.option("--keep-operands", is_flag=True, help="Keep the expression's own tokens in the answer (left out by default).")
@click.option("--offline", is_flag=True, envvar="HF_HUB_OFFLINE", help="Use only the local Hugging Face cache.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: the expression, its operands' tokens and the nearest tokens.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", *NEAR_FORMATS]), default="table", show_default=True,
    help="table, or a graph: the expression, its nearest tokens and their SIMILAR_TO edges.",
)
@click.option("-o", "--output", default="-", show_default=True, help="File to write the graph to; - for stdout.")
@neo4j_options
def near(expression, model, k, keep_operands, offline, as_json, fmt, output, settings):
    """The tokens nearest to EXPRESSION, an expression of tokens such as "king - man + woman".

    Operands are words (resolved like `atlas neighbours` does: " king" in byte-level
    vocabularies) or texts in double quotes (a token's exact spelling, or a text of several
    tokens standing for their mean: "artificial intelligence"), each with an optional weight
    (0.5*paris), joined by + and -. The expression is evaluated on unit rows and compared,
    exactly, with every row of the model's embedding matrix; the operands' own tokens are
    left out.
    """
    from atlas.errors import InvalidArgument
    from atlas.views.expression import near_subgraph, nearest_to

    if as_json and fmt != "table":
        raise InvalidArgument("give --json or --format, not both")
    with open_store(settings) as store:
        props = store.require_model(model)
        with recorded_source(model, props):
            result = nearest_to(store, model, expression, k, keep_operands=keep_operands, offline=offline)
        subgraph = near_subgraph(store, result) if fmt != "table" else None
    if as_json:
        click.echo(json.dumps(result.as_json(), ensure_ascii=False, indent=2))
        return
    if subgraph is not None:
        emit(subgraph, fmt, output)
        return
    operands = ", ".join(terminal_text(t["text"]) for o in result.operands for t in o.tokens)
    left_out = (
        f"the operands ({operands}) are left out, --keep-operands keeps them" if result.left_out
        else f"the operands ({operands}) are kept"
    )
    say(
        f"nearest tokens to {terminal_text(result.expression)} in {model} "
        f"({result.rows:,} rows compared in {result.seconds:.2f} s; {left_out}):"
    )
    print_table(
        ["rank", "id", "score", "token"],
        [[r["rank"], r["id"], f"{r['score']:.4f}", terminal_text(r["text"])] for r in result.neighbours],
    )


@main.command()
@click.option("--query", "name", required=True, help="A named view from cypher/ (view_<name>.cypher).")
@click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help="A parameter of the view; repeat for more.")
@export_options
@neo4j_options
def export(name, params, fmt, output, settings):
    """Run a named query from cypher/ and export the subgraph it returns."""
    from atlas.errors import InvalidArgument
    from atlas.views.named import query_subgraph

    values = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"--param expects KEY=VALUE, got {item!r}")
        if key in values:
            raise InvalidArgument(f"--param {escape_controls(key)} is given twice; give each parameter once")
        values[key] = value
    with open_store(settings) as store:
        subgraph = query_subgraph(store, name, values)
    emit(subgraph, fmt, output)


# -- Neo4j Browser ------------------------------------------------------------------------------
@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to serve on.")
@click.option("--allow-remote", is_flag=True, help="Serve on a --host that is not a loopback address.")
def browser(host, port, allow_remote):
    """Serve the Neo4j Browser guide and stylesheet locally and print the lines to paste into Browser."""
    from atlas.server import guide as guide

    server, urls = guide.serve(host, port, allow_remote=allow_remote)
    say("Paste into Neo4j Browser (http://127.0.0.1:7474/browser/):")
    click.echo(guide.style_line(urls.style))
    click.echo(guide.play_line(urls.guide))
    say("serving the guide and stylesheet; Ctrl-C stops")
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
