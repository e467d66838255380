"""The load's options are written once (atlas.core.load_options): `atlas load` and Atlas.load* take the same ones."""

from __future__ import annotations

import dataclasses

import pytest

from atlas.cli.models import load
from atlas.core.load_options import CorpusOptions, LoadOptions
from atlas.errors import InvalidArgument


def _cli_options() -> dict[str, object]:
    return {param.name: param for param in load.params}


@pytest.mark.parametrize("options", [LoadOptions, CorpusOptions])
def test_every_option_is_an_option_of_atlas_load_with_its_default_and_help(options):
    cli = _cli_options()
    for field in dataclasses.fields(options):
        param = cli[field.name]
        assert param.default == field.default, field.name
        if field.default is True:  # a flag that turns it off
            assert param.opts == [field.metadata["flag"]] and param.help == field.metadata["flag_help"]
        else:
            assert param.help == field.metadata["help"], field.name


def test_the_command_line_makes_the_options_the_api_takes():
    context = load.make_context(
        "load", ["src", "--k", "7", "--no-analysis", "--dtype", "float32", "--chunks", "3", "--skip-gram"]
    )
    settings, corpus = (
        {f.name: context.params[f.name] for f in dataclasses.fields(o)} for o in (LoadOptions, CorpusOptions)
    )
    assert LoadOptions(**settings) == LoadOptions(k=7, analyse=False, dtype="float32")
    assert CorpusOptions(**corpus) == CorpusOptions(chunks=3, skip_gram=True)


def test_keywords_replace_the_fields_of_the_options_given():
    base = LoadOptions(k=5, analyse=False)
    assert LoadOptions.given(base, {"dtype": "float32"}) == LoadOptions(k=5, analyse=False, dtype="float32")
    assert LoadOptions.given(None, {}) == LoadOptions()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: LoadOptions(k=0), "k must be at least 1, got 0"),
        (lambda: LoadOptions(k="3"), "k must be a whole number, got '3' (str)"),
        (lambda: LoadOptions(block_rows=0), "block_rows must be at least 1, got 0"),
        (lambda: LoadOptions(device="gpu"), "device must be one of auto, cpu, cuda, got 'gpu'"),
        (lambda: LoadOptions(dtype="float16"), "dtype must be one of auto, float32, bfloat16, got 'float16'"),
        (lambda: LoadOptions(max_memory="lots"), "cannot read 'lots' as a memory size"),
        (lambda: LoadOptions(resolution=0), "resolution must be above 0, got 0"),
        (lambda: LoadOptions(name=" x"), "the model name ' x' starts or ends with a space"),
        (lambda: LoadOptions.given(None, {"method": "tfidf"}), "method is not a load option; give one of name, k,"),
        (lambda: LoadOptions.given("fast", {}), "options must be a LoadOptions, got 'fast' (str)"),
        (lambda: CorpusOptions(method="glove"), "unknown corpus method 'glove': use one of word2vec, tfidf"),
        (lambda: CorpusOptions(chunks=1), "chunks must be at least 2 (documents to compare a word across), got 1"),
    ],
)
def test_a_wrong_option_is_refused_when_the_options_are_made(make, message):
    with pytest.raises(InvalidArgument) as raised:
        make()
    assert str(raised.value).startswith(message), str(raised.value)
