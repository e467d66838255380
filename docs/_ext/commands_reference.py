"""The command reference in docs/commands.md, written from the ``atlas`` commands themselves.

docs/commands.md keeps its prose and examples by hand; between the lines
``<!-- BEGIN name -->`` and ``<!-- END name -->`` it holds what this module writes from the
click commands: each command's usage, help text and options with their defaults (the
``atlas`` group's block also lists every command). Change a command's help, then run

    python docs/_ext/commands_reference.py          # rewrites the blocks in docs/commands.md
    python docs/_ext/commands_reference.py --check  # exit 1 when they differ from the commands

tests/test_docs.py fails when the page and the commands disagree, or when a command has no block.
"""

from __future__ import annotations

import inspect
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import click

PAGE = Path(__file__).resolve().parents[1] / "commands.md"
BLOCK = re.compile(r"<!-- BEGIN (?P<name>[^>]*?) -->\n.*?<!-- END (?P=name) -->\n", re.S)
CONNECTION = ("uri", "user", "password", "database", "home")  # atlas.cli.options.neo4j_options
CONNECTION_BLOCK = "connection options"
NOTE = "<!-- written by docs/_ext/commands_reference.py from the command; edit the command's help, not this -->"
CODE = re.compile(r"(`+)(.+?)\1", re.S)


def walk(group: click.Group, parent: click.Context) -> Iterator[tuple[click.Command, click.Context]]:
    """Every command under ``group``, depth first in name order, each with its context."""
    for name in sorted(group.commands):
        command = group.commands[name]
        ctx = click.Context(command, info_name=name, parent=parent, **command.context_settings)
        yield command, ctx
        if isinstance(command, click.Group):
            yield from walk(command, ctx)


def escape(text: str) -> str:
    """Plain help text as Markdown text: `code` spans kept, Markdown's special characters outside them escaped."""
    out, at = [], 0
    for match in CODE.finditer(text):
        out.append(_escape_plain(text[at : match.start()]))
        out.append(match.group(0))
        at = match.end()
    out.append(_escape_plain(text[at:]))
    # a block's marker (heading, quote, list) only counts where the paragraph starts
    return re.sub(r"^(?:([#>+-])|(\d+)\.(?=\s))", lambda m: f"\\{m[1]}" if m[1] else f"{m[2]}\\.", "".join(out))


def _escape_plain(text: str) -> str:
    return re.sub(r"([\\*_\[\]|])", r"\\\1", text).replace("<", "&lt;")


def paragraphs(help_text: str | None) -> list[str]:
    """A docstring's paragraphs, each on one line (click's ``\\f`` ends what is shown)."""
    text = inspect.cleandoc(help_text or "").split("\f")[0]
    return [" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip()]


def anchor(ctx: click.Context) -> str:
    """The id mkdocs gives the heading ``## `atlas db start```: ``atlas-db-start``."""
    return ctx.command_path.replace(" ", "-")


def usage(command: click.Command, ctx: click.Context) -> str:
    return " ".join([ctx.command_path, *command.collect_usage_pieces(ctx)])


def shown(text: str) -> str:
    """A default as the reader's machine would show it: the user's home folder as ``~``."""
    home = str(Path.home())
    return text.replace(home, "~") if len(home) > 1 else text


def option_line(option: click.Option, ctx: click.Context) -> str:
    record = option.get_help_record(ctx)
    assert record is not None
    parts = [escape(" ".join(option.help.split()))] if option.help else []
    extra = option.get_help_extra(ctx)
    if "default" in extra:
        parts.append(f"Default: `{shown(extra['default'])}`.")
    if "range" in extra:
        parts.append(f"Range: `{extra['range']}`.")
    if extra.get("required"):
        parts.append("Required.")
    envvars = [option.envvar] if isinstance(option.envvar, str) else list(option.envvar or ())
    if envvars:
        parts.append("Also read from " + " or ".join(f"`{v}`" for v in envvars) + ".")
    text = " ".join(parts)
    return f"- `{record[0]}`" + (f": {text}" if text else "")


def options(command: click.Command, ctx: click.Context) -> list[str]:
    """The option lines of ``command``; the connection options shared by most commands become one line."""
    help_option = command.get_help_option(ctx)
    params = [
        p for p in command.get_params(ctx) if isinstance(p, click.Option) and not p.hidden and p is not help_option
    ]
    names = {p.name for p in params}
    shared = set(CONNECTION) <= names
    lines = [option_line(p, ctx) for p in params if not (shared and p.name in CONNECTION)]
    if shared:
        flags = ", ".join(f"`{p.opts[0]}`" for p in params if p.name in CONNECTION)
        lines.append(f"- {flags}: the [connection options](#connection-options).")
    return lines


def reference(command: click.Command, ctx: click.Context) -> str:
    """A command's block: usage, help and options; a group's also lists its commands."""
    lines = [NOTE, "", f"**Usage:** `{usage(command, ctx)}`", ""]
    for paragraph in paragraphs(command.help):
        lines += [escape(paragraph), ""]
    if isinstance(command, click.Group):
        lines += ["| command | what it does |", "|---|---|"]
        for sub, sub_ctx in walk(command, ctx):
            first = paragraphs(sub.help)[:1] or [""]
            pieces = " ".join(p for p in sub.collect_usage_pieces(sub_ctx) if p != "[OPTIONS]")
            called = f"{sub_ctx.command_path} {pieces}".strip()
            lines.append(f"| [`{called}`](#{anchor(sub_ctx)}) | {escape(first[0])} |")
        lines.append("")
    found = options(command, ctx)
    if found:
        lines += ["Options:", "", *found, ""]
    return "\n".join(lines)


def connection_reference(main: click.Group) -> str:
    """The connection options, written once: those of the first command that has them all."""
    root = click.Context(main, info_name="atlas", **main.context_settings)
    for command, ctx in walk(main, root):
        params = {p.name: p for p in command.get_params(ctx) if isinstance(p, click.Option)}
        if set(CONNECTION) <= set(params):
            lines = [NOTE, ""] + [option_line(params[n], ctx) for n in CONNECTION]  # type: ignore[arg-type]
            return "\n".join(lines) + "\n"
    raise LookupError("no command takes the connection options")


def blocks(main: click.Group) -> dict[str, str]:
    """Every block the page must hold, by name: ``atlas``, each command's path, and the connection options."""
    root = click.Context(main, info_name="atlas", **main.context_settings)
    found = {"atlas": reference(main, root)}
    for command, ctx in walk(main, root):
        found[ctx.command_path] = reference(command, ctx)
    found[CONNECTION_BLOCK] = connection_reference(main)
    return found


def render(page: str, main: click.Group) -> str:
    """``page`` with every block rewritten from the commands; ValueError naming blocks missing, unknown or repeated."""
    wanted = blocks(main)
    names = [m.group("name") for m in BLOCK.finditer(page)]
    problems = [f"no block for {n!r}" for n in wanted if n not in names]
    problems += [f"block {n!r} names no command" for n in dict.fromkeys(names) if n not in wanted]
    problems += [f"block {n!r} appears {names.count(n)} times" for n in dict.fromkeys(names) if names.count(n) > 1]
    if problems:
        raise ValueError(f"{PAGE.name}: " + "; ".join(problems) + " (each command needs one <!-- BEGIN/END --> block)")
    return BLOCK.sub(
        lambda m: (
            f"<!-- BEGIN {m.group('name')} -->\n{wanted[m.group('name')].rstrip()}\n<!-- END {m.group('name')} -->\n"
        ),
        page,
    )


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(PAGE.parents[1]))
    from atlas.cli import main as atlas

    page = PAGE.read_text(encoding="utf-8")
    try:
        new = render(page, atlas)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    if "--check" in argv:
        if new != page:
            print(f"{PAGE} differs from the commands: run python docs/_ext/commands_reference.py", file=sys.stderr)
            return 1
        return 0
    if new != page:
        PAGE.write_text(new, encoding="utf-8")
        print(f"rewrote the command reference in {PAGE}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
