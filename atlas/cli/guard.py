"""Checks of a command's options that hold for every command having them, run before the command itself."""

from __future__ import annotations

import copy
import functools

import click

from atlas.errors import InvalidArgument


def check(params: dict) -> None:
    """Refuse option combinations no command can honour: ``--format table`` goes to the terminal, never to ``-o FILE``."""
    if params.get("fmt") == "table" and params.get("output") not in (None, "-"):
        raise InvalidArgument(
            f"--format table is printed on the terminal, not written to {params['output']}; "
            "use --format csv or --format json to write a file"
        )


def guarded(command: click.Command) -> click.Command:
    """A copy of ``command`` whose callback runs :func:`check` on its options first."""
    if command.callback is None or isinstance(command, click.Group):
        return command
    inner = command.callback

    @functools.wraps(inner)
    def callback(*args, **kwargs):
        check(kwargs)
        return inner(*args, **kwargs)

    command = copy.copy(command)
    command.callback = callback
    return command
