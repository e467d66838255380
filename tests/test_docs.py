"""Every CLI command has help text and is shown in the README; every Cypher file has its header."""

from pathlib import Path

import click
import pytest

from atlas.cli import main
from atlas.graph.queries import header, names

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "atlas"):
    for name, command in sorted(group.commands.items()):
        yield f"{prefix} {name}", command
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix} {name}")


ALL = list(commands(main))


def test_there_are_commands():
    assert {"atlas load", "atlas neighbours", "atlas prompt", "atlas atlas", "atlas export"} <= {n for n, _ in ALL}


@pytest.mark.parametrize("name,command", ALL, ids=[n for n, _ in ALL])
def test_command_has_help(name, command):
    assert command.help and len(command.help.strip()) > 20, f"{name} has no help text"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and param.name != "help":
            assert param.help or param.type.name == "choice" or param.name in {"bolt_port", "http_port"}, (
                f"{name} {param.opts[0]} has no help text"
            )


@pytest.mark.parametrize("name,command", ALL, ids=[n for n, _ in ALL])
def test_command_is_in_readme(name, command):
    if isinstance(command, click.Group):
        subcommands = "|".join(sorted(command.commands))
        assert f"`{name} {subcommands}`" in README or all(f"{name} {s}" in README for s in command.commands)
    else:
        assert f"`{name}" in README, f"{name} is not documented in README.md"
        assert f"\n{name} " in README or f"\n{name}\n" in README, f"README.md shows no example of {name}"


@pytest.mark.parametrize("name", names())
def test_cypher_files_say_what_they_do_and_take(name):
    text = header(name)
    assert text, f"cypher/{name}.cypher has no // header"
    assert "Parameters:" in text, f"cypher/{name}.cypher does not list its parameters"
