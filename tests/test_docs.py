"""Every CLI command has help text, and docs/commands.md holds its reference exactly as the command says it and an
example; every Cypher file has its header; the documentation site builds strictly and the README links into it."""

import importlib.util
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


def reference_module():
    spec = importlib.util.spec_from_file_location(
        "commands_reference", ROOT / "docs" / "_ext" / "commands_reference.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


REFERENCE = reference_module()


def test_the_command_reference_is_what_the_commands_say():
    """The blocks in docs/commands.md are written from the commands; after changing a command's help or options, run
    ``python docs/_ext/commands_reference.py``."""
    assert REFERENCE.render(COMMANDS, main) == COMMANDS, (
        "docs/commands.md differs from the commands: run python docs/_ext/commands_reference.py"
    )


def block(name: str) -> str:
    return COMMANDS.split(f"<!-- BEGIN {name} -->\n", 1)[1].split(f"<!-- END {name} -->", 1)[0]


@pytest.mark.parametrize("name,command", ALL, ids=[n for n, _ in ALL])
def test_command_is_in_the_commands_page(name, command):
    """Its section, its reference block with every option, and (for a command) an example in a code block."""
    depth = "###" if name.count(" ") > 1 else "##"
    assert f"\n{depth} `{name}`\n" in COMMANDS, f"docs/commands.md has no heading for {name}"
    text = block(name)
    assert f"**Usage:** `{name} " in text
    shared = set(REFERENCE.CONNECTION) <= {p.name for p in command.params}
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            where = block("connection options") if shared and param.name in REFERENCE.CONNECTION else text
            flags = [line.split("`")[1].split() for line in where.splitlines() if line.startswith("- `")]
            assert any(f"{opt}," in words or opt in words for opt in param.opts for words in flags), (
                f"{name} {param.opts[0]} is not in docs/commands.md"
            )
    if not isinstance(command, click.Group):
        assert f"\n{name} " in COMMANDS or f"\n{name}\n" in COMMANDS, f"docs/commands.md shows no example of {name}"


def test_the_reference_check_fails_on_a_changed_help_or_a_missing_block(monkeypatch):
    monkeypatch.setattr(main.commands["hubs"], "help", "The hubs, said another way than docs/commands.md says.")
    assert REFERENCE.render(COMMANDS, main) != COMMANDS
    monkeypatch.undo()
    without = COMMANDS.replace(f"<!-- BEGIN atlas hubs -->\n{block('atlas hubs')}<!-- END atlas hubs -->\n", "")
    with pytest.raises(ValueError, match="no block for 'atlas hubs'"):
        REFERENCE.render(without, main)


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
