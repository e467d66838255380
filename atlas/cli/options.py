"""Options that several commands share, each defined once."""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import click

from atlas.core.load_options import LoadOptions
from atlas.settings import DEFAULT_MODEL, EXPORT_FORMATS, Settings, default_home, server_home

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def home_option(command):
    return click.option(
        "--home",
        envvar="ATLAS_NEO4J_HOME",
        type=click.Path(file_okay=False, path_type=Path),
        default=default_home(),
        show_default=True,
        callback=lambda context, parameter, value: server_home(value),
        help="Folder of the local Neo4j server: its jars, configuration, data, logs and password file.",
    )(command)


def neo4j_options(command):
    """``--uri/--user/--password/--database/--home``, also from NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD,
    NEO4J_DATABASE, ATLAS_NEO4J_HOME; the command gets ``atlas``, an :class:`atlas.Atlas` on them.
    Without a password, the local server's password file is read."""
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
        from atlas.api import Atlas, connection_settings

        with Atlas(settings=connection_settings(uri, user, password, database, home)) as atlas:
            return command(*args, atlas=atlas, **kwargs)

    return wrapper


def field_option(options: type, name: str):
    """The option of field ``name`` of an options dataclass (:mod:`atlas.core.load_options`): its default and help,
    and where the field says so its flag, choices and environment variable."""
    (found,) = [f for f in dataclasses.fields(options) if f.name == name]
    meta, default = found.metadata, found.default
    flag = meta.get("flag") or "--" + name.replace("_", "-")
    if default is True:  # on unless the flag turns it off
        return click.option(flag, name, is_flag=True, flag_value=False, default=True, help=meta["flag_help"])
    if default is False:
        return click.option(flag, name, is_flag=True, default=False, envvar=meta.get("envvar"), help=meta["help"])
    kind = click.Choice(meta["choices"]) if "choices" in meta else type(default) if default is not None else str
    return click.option(flag, name, default=default, show_default=default is not None, type=kind, help=meta["help"])


def fields_options(options: type, into: str):
    """One option per field of the options dataclass ``options``; the command gets their values as one dict, ``into``,
    to make the options object of (``options(**values)``) where they apply."""
    names = [f.name for f in dataclasses.fields(options)]

    def decorate(command):
        @functools.wraps(command)
        def wrapper(*args, **kwargs):
            return command(*args, **{into: {name: kwargs.pop(name) for name in names}}, **kwargs)

        for name in reversed(names):
            wrapper = field_option(options, name)(wrapper)
        return wrapper

    return decorate


def analysis_options(command):
    """``--resolution``, ``--seed`` and ``--epochs`` of the analysis (``atlas analyse``; the load has them all)."""
    for name in ("epochs", "seed", "resolution"):
        command = field_option(LoadOptions, name)(command)
    return command


def model_option(command):
    return click.option(
        "--model", "-m", envvar="ATLAS_MODEL", default=DEFAULT_MODEL, show_default=True, help="Stored model name."
    )(command)


def quiet_option(command):
    return click.option("--quiet", "-q", is_flag=True, help="No progress output.")(command)


def offline_option(command):
    return field_option(LoadOptions, "offline")(command)


def json_option(help: str = "Print JSON."):
    return click.option("--json", "as_json", is_flag=True, help=help)


def k_option(default: int | None, help: str):
    return click.option("--k", "k", default=default, show_default=default is not None, type=int, help=help)


def collapse_option(help: str = "Draw each variant group as one node."):
    return click.option("--collapse-variants", is_flag=True, help=help)


def table_to_terminal(command):
    """Refuse ``--format table`` with ``-o FILE`` before the command runs: a table is printed, never written."""

    @functools.wraps(command)
    def wrapper(*args, fmt, output, **kwargs):
        if fmt == "table" and output not in (None, "-"):
            from atlas.errors import InvalidArgument

            raise InvalidArgument(
                f"--format table is printed on the terminal, not written to {output}; "
                "use --format csv or --format json to write a file"
            )
        return command(*args, fmt=fmt, output=output, **kwargs)

    return wrapper


def export_options(command):
    """``--format`` and ``-o``, shared by prompt, atlas and export."""
    command = table_to_terminal(command)
    command = click.option(
        "-o",
        "--output",
        default="-",
        show_default=True,
        help="File to write; - for stdout. csv writes NAME.nodes.csv and NAME.edges.csv.",
    )(command)
    return click.option(
        "--format", "fmt", type=click.Choice(["table", *EXPORT_FORMATS]), default="table", show_default=True
    )(command)
