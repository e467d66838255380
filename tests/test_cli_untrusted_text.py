"""Token text that attacks a terminal, and output paths that are not plain files, through the CLI on a real Neo4j.

The model's vocabulary holds tokens made of an ESC sequence that clears the screen, BEL
and a right-to-left override: every line the CLI prints about them must show visible
escapes only.
"""

from __future__ import annotations

import json
import os
import stat
import uuid

import numpy as np
import pytest
from conftest import error_line

from atlas.graph.store import Store
from atlas.loaders.pipeline import load
from atlas.loaders.source import EmbeddingTable

EVIL = "\x1b[2J\x07\u202eevil"  # clear the screen, ring, reverse the rest of the line
EVIL_SHOWN = "\\x1b[2J\\x07\\u202eevil"
GONE = "\x1b]0;owned\x07\u202egone"  # sets the terminal's window title; not a token
GONE_SHOWN = "\\x1b]0;owned\\x07\\u202egone"
TEXTS = ["[PAD]", "cat", "dog", "kitten", "list", "lists", EVIL, "\x1b[2J\x07\u202eEvil", "array"]
RAW_CONTROLS = ("\x1b", "\x07", "\u202e")


@pytest.fixture(scope="module")
def model(neo4j_settings):
    """A small WordPiece-like vocabulary with hostile token texts, loaded with k=3."""
    name = f"test-untrusted-{uuid.uuid4().hex[:8]}"
    rng = np.random.default_rng(5)
    table = EmbeddingTable(
        name=name,
        source="test",
        matrix=rng.standard_normal((len(TEXTS), 8)).astype(np.float32),
        ids=np.arange(len(TEXTS), dtype=np.int64),
        raw=list(TEXTS),
        text=list(TEXTS),
        special=[t == "[PAD]" for t in TEXTS],
        family="wordpiece",
        matrix_rows=len(TEXTS),
    )
    with Store(neo4j_settings) as store:
        load(store, table, k=3)
        try:
            yield name
        finally:
            store.delete_model(name)


def assert_no_raw_controls(result):
    for stream in (result.stdout, result.stderr):
        assert not any(c in stream for c in RAW_CONTROLS), repr(stream)


def counts(run, *args) -> tuple[int, int]:
    result = run(*args, "--format", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    return len(data["nodes"]), len(data["links"])


def test_atlas_table_title_and_left_out_words_show_escapes(run, model, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text(f"cat\n{EVIL}\n{GONE}\n", encoding="utf-8")
    args = ("atlas", "--model", model, "--words-file", words, "--k", 2)
    n_nodes, n_edges = counts(run, *args)
    result = run(*args, "--format", "table")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        f'not single tokens of {model}, left out: "{GONE_SHOWN}"',
        f"atlas of cat, {EVIL_SHOWN}, k=2: {n_nodes} tokens, {n_edges} edges",
    ]
    assert f'"{EVIL_SHOWN}"' in result.stdout
    assert_no_raw_controls(result)


def test_export_table_title_shows_escapes(run, model):
    args = (
        "export",
        "--query",
        "neighbourhood",
        "--param",
        f"model={model}",
        "--param",
        f"text={EVIL}",
        "--param",
        "k=2",
    )
    n_nodes, n_edges = counts(run, *args)
    result = run(*args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f"view_neighbourhood text='{EVIL_SHOWN}', k=2: {n_nodes} tokens, {n_edges} edges\n"
    assert_no_raw_controls(result)


def test_neighbours_and_variants_headers_show_escapes(run, model):
    result = run("neighbours", EVIL, "--model", model)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f'nearest tokens of "{EVIL_SHOWN}" (id 6) in {model}:\n'
    assert_no_raw_controls(result)
    result = run("variants", EVIL, "--model", model)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == f'variant group "{EVIL_SHOWN.lower()}" of {model}: 2 tokens\n'
    assert_no_raw_controls(result)


def test_errors_quoting_token_text_show_escapes(run, model, tmp_path):
    missing = run("neighbours", "\x1b[2J\x07\u202eEVIL", "--model", model)
    assert error_line(missing) == (
        f"Error: token '\\x1b[2J\\x07\\u202eEVIL' is not in the vocabulary of {model}; "
        f"close tokens: '{EVIL_SHOWN}', '\\x1b[2J\\x07\\u202eEvil' (use one of them)"
    )
    words = tmp_path / "words.txt"
    words.write_text(f"{GONE}\n", encoding="utf-8")
    none = run("atlas", "--model", model, "--words-file", words, "--k", 2)
    assert error_line(none) == (
        f"Error: none of the words '{GONE_SHOWN}' is a single token of {model}; "
        "`atlas neighbours WORD` names close tokens"
    )
    bad = run(
        "export", "--query", "neighbourhood", "--param", f"model={model}", "--param", "text=cat", "--param", f"k={EVIL}"
    )
    assert error_line(bad) == f"Error: parameter k of view_neighbourhood must be an integer, got '{EVIL_SHOWN}'"
    for result in (missing, none, bad):
        assert_no_raw_controls(result)


def test_an_export_to_a_full_device_is_one_error_line(run, model, tmp_path):
    if os.geteuid() == 0:  # as root, a broken export could replace the real /dev/full: use a node of our own
        full = str(tmp_path / "full")
        os.mknod(full, 0o666 | stat.S_IFCHR, os.makedev(1, 7))
    else:
        full = "/dev/full"
    result = run(
        "export",
        "--query",
        "neighbourhood",
        "--param",
        f"model={model}",
        "--param",
        "text=cat",
        "--format",
        "json",
        "-o",
        full,
    )
    assert (
        error_line(result) == f"Error: cannot write {full}: No space left on device; free some space or write elsewhere"
    )
    assert stat.S_ISCHR(os.lstat(full).st_mode)


HOSTILE_NAME = "esc\x1b]0;PWNED\x07\x1b[31mX\nsecond line"


@pytest.fixture
def hostile_model(neo4j_driver, neo4j_settings):
    """A Model node whose name is hostile, as a store written by hand (or by an older version) may hold."""
    name = f"{HOSTILE_NAME} {uuid.uuid4().hex[:8]}"
    neo4j_driver.execute_query(
        "CREATE (:Model {name: $name, status: 'complete', k: 3, dim: 8, source: $name})",
        name=name,
        database_=neo4j_settings.database,
    )
    yield name
    neo4j_driver.execute_query("MATCH (m:Model {name: $name}) DELETE m", name=name, database_=neo4j_settings.database)


def test_model_names_reach_the_terminal_escaped(run, hostile_model):
    """Model names are escaped wherever token text is: the models table, --verify's lines and every error line."""
    listed = run("models")
    assert listed.exit_code == 0, listed.stderr
    verified = run("models", "--verify")
    missing = run("neighbours", "cat", "--model", "no such model at all")
    for result in (listed, verified, missing):
        for control in (*RAW_CONTROLS, "\x1b", "\x07"):
            assert control not in result.stdout + result.stderr
    assert "esc\\x1b]0;PWNED\\x07\\x1b[31mX\\nsecond line" in listed.stdout
    assert "esc\\x1b]0;PWNED\\x07\\x1b[31mX\\nsecond line" in verified.stderr
    line = error_line(missing)
    assert line.startswith("Error: model 'no such model at all' is not loaded (loaded: ")
    assert "esc\\x1b]0;PWNED\\x07\\x1b[31mX\\nsecond line" in line


@pytest.mark.parametrize(
    "name,why",
    [
        ("", "a model name must be some text, not ''; give one as name=... (--name)"),
        ("  ", "a model name must be some text, not '  '; give one as name=... (--name)"),
        (HOSTILE_NAME, "holds control characters (\\x07\\n\\x1b); give a name without them"),
        (" padded", "the model name ' padded' starts or ends with a space; give it without them"),
    ],
    ids=["empty", "blank", "controls", "padded"],
)
def test_load_refuses_names_that_cannot_name_a_model(run, neo4j_settings, name, why):
    """--name '' no longer becomes the default name; a name is some text without controls or spaces at its ends."""
    before = json.loads(run("models", "--json").stdout)
    line = error_line(run("load", "--name", name, "--k", 3, "--quiet"))
    assert line.startswith("Error: ") and line.endswith(why)
    assert json.loads(run("models", "--json").stdout) == before  # nothing stored


def test_the_api_refuses_them_too(neo4j_settings):
    from atlas import Atlas, InvalidArgument

    with Atlas(settings=neo4j_settings) as face, pytest.raises(InvalidArgument, match="must be some text"):
        face.load(name="")
