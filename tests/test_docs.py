"""Every CLI command has help text and is shown in docs/commands.md; every Cypher file has its header; the
documentation site builds strictly and the README links into it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from atlas.cli import main
from atlas.graph.queries import header, names

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
COMMANDS = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")


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
def test_command_is_in_the_commands_page(name, command):
    if isinstance(command, click.Group):
        subcommands = "|".join(sorted(command.commands))
        assert f"`{name} {subcommands}`" in COMMANDS or all(f"{name} {s}" in COMMANDS for s in command.commands)
    else:
        assert f"`{name}" in COMMANDS, f"{name} is not documented in docs/commands.md"
        assert f"\n{name} " in COMMANDS or f"\n{name}\n" in COMMANDS, f"docs/commands.md shows no example of {name}"


def test_readme_links_into_the_site_without_repeating_it():
    targets = re.findall(r"\]\((docs/[^)#]+)", README)
    assert "docs/commands.md" in targets and "docs/api.md" in targets
    assert all((ROOT / t).is_file() for t in targets), [t for t in targets if not (ROOT / t).is_file()]
    assert "### `atlas" not in README  # the per-command sections live in docs/commands.md


def test_the_site_builds_strictly(tmp_path):
    """mkdocs build --strict: a broken link, anchor or API reference fails (the theme fetches no fonts)."""
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert built.returncode == 0, built.stderr[-3000:]
    api = (tmp_path / "site" / "api" / "index.html").read_text(encoding="utf-8")
    assert 'id="atlas.api.Atlas.neighbours"' in api and 'id="atlas.results.Graph"' in api


@pytest.mark.parametrize("name", names())
def test_cypher_files_say_what_they_do_and_take(name):
    text = header(name)
    assert text, f"cypher/{name}.cypher has no // header"
    assert "Parameters:" in text, f"cypher/{name}.cypher does not list its parameters"
