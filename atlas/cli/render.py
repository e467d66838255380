"""What the commands show: messages on stderr, tables and data on stdout, progress while work runs."""

from __future__ import annotations

import json
import os
import stat
import sys
import time
from typing import Any

import click

from atlas.core.token_text import aligned_table, escape_controls
from atlas.core.units import duration
from atlas.results import Graph, Table, VectorsReport


def say(message: str, quiet: bool = False) -> None:
    """A message for the user, on stderr, one line: model names and text in it cannot run terminal escapes."""
    if not quiet:
        click.echo(escape_controls(message), err=True)


def print_table(headers: list[str], rows: list[list]) -> None:
    """A plain aligned table on stdout."""
    for line in aligned_table(headers, rows):
        click.echo(line)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def show(result: Table, as_json: bool = False) -> None:
    """A table result: its JSON on stdout, or its title on stderr and its rows on stdout."""
    if as_json:
        print_json(result.to_dict())
        return
    for line in result.title().splitlines():  # each line escaped alone: a title of several lines stays several
        say(line)
    print_table(result.headers(), result.text_rows())


def emit(graph: Graph, fmt: str, output: str) -> None:
    """Write a subgraph as a table on stdout or through an exporter."""
    if fmt == "table":
        say(graph.summary())
        print_table(["source", "rank", "score", "target"], graph.table_rows())
        return
    for path in graph.save(output, fmt, stdout=sys.stdout):
        say(f"wrote {path} ({len(graph.nodes)} tokens, {len(graph.edges)} edges)")


def tell_written(paths: list[str], what: str = "", quiet: bool = False) -> None:
    """Say each file a result's ``save()`` wrote, with its size (a stream or device has none), then ``what``."""
    for path in paths:
        size = os.stat(path)
        sizes = [f"{size.st_size:,} bytes"] if stat.S_ISREG(size.st_mode) else []
        shown = ", ".join(sizes + ([what] if what else []))
        say(f"wrote {path}" + (f" ({shown})" if shown else ""), quiet)


def tell_vectors(report: VectorsReport) -> None:
    """The notes and the outcome of storing a model's vectors, on stderr."""
    for note in report.notes:
        say(f"note: {note}")
    say(repr(report) + (" (--replace rewrites them)" if report.skipped else ""))


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
        self.bar: Any = None  # click's progress bar of the stage, on a terminal

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
            return f"{self.stage}  running for {duration(seconds)}" + (
                f", {self.done:,} so far" if self.done > 1 else ""
            )
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
