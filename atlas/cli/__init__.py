"""The ``atlas`` command: each command parses its options, makes a call to :class:`atlas.Atlas` and shows the result.

Data goes to stdout, messages and progress to stderr. Library errors become one line on
stderr and exit status 1. Shared options are in :mod:`atlas.cli.options`, what is shown in
:mod:`atlas.cli.render`; the commands are grouped by what they do.
"""

from __future__ import annotations

import errno
import logging
import os

import click

from atlas import __version__
from atlas.cli import compare, context, graphs, lookups, models, servers, untrained
from atlas.cli.options import CONTEXT
from atlas.core.token_text import escape_controls
from atlas.errors import AtlasError
from atlas.files.output import advice

__all__ = ["main"]


class AtlasGroup(click.Group):
    """Turns every library error into one line on stderr and exit status 1."""

    def parse_args(self, ctx, args):
        """Refuse, before any command runs, an argument that is not UTF-8 (Python holds its bytes as lone surrogates)."""
        for arg in args:
            try:
                arg.encode("utf-8")
            except UnicodeEncodeError:
                raw = os.fsencode(arg)
                raise click.ClickException(
                    f"argument {raw!r} is not valid text (UTF-8); give it as UTF-8 text"
                ) from None
        return super().parse_args(ctx, args)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except AtlasError as exc:
            raise click.ClickException(
                escape_controls(str(exc))
            ) from None  # names and text from the graph: one line, no escapes run
        except OSError as exc:
            # The library turns its own OSErrors into AtlasErrors: one that reaches here came from
            # writing the command's output. A reader that left (`atlas models | head -0`) is
            # click's to end: quietly, with exit status 1.
            if exc.errno == errno.EPIPE:
                raise
            raise click.ClickException(
                f"cannot write to standard output: {exc.strerror or exc}; {advice(exc)}"
            ) from None


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


for command in (
    models.load,
    lookups.neighbours,
    models.models,
    models.delete,
    models.vectors,
    models.analyse,
    lookups.hubs,
    untrained.untrained,
    graphs.map_command,
    servers.db,
    lookups.variants,
    lookups.tokens,
    graphs.prompt,
    graphs.atlas_command,
    graphs.near,
    context.context,
    graphs.export,
    compare.compare,
    servers.browser,
):
    main.add_command(command)
