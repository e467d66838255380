"""Every public Atlas method checks its arguments: one AtlasError naming the parameter, never a raw TypeError."""

from __future__ import annotations

import pytest

from atlas import Atlas
from atlas.errors import AtlasError, InvalidArgument

CALLS = [
    (lambda a: a.context(None), "texts must be a text or a list of texts, got None"),
    (lambda a: a.context([None]), "texts[0] must be a text (str), got None"),
    (lambda a: a.context([]), "texts is empty; give at least one text"),
    (lambda a: a.context("the bank", k="3"), "k must be a whole number, got '3' (str)"),
    (lambda a: a.context("the bank", k=2.5), "k must be a whole number, got 2.5 (float)"),
    (lambda a: a.context("the bank", k=None), "k must be a whole number, got None"),
    (lambda a: a.context("the bank", k=0), "k must be between 1 and 1000, got 0"),
    (lambda a: a.context("the bank", layers=["a"]), "layer 'a' is not a number"),
    (lambda a: a.context("the bank", layers=[None]), "layers holds None"),
    (lambda a: a.context("the bank", layers=2.5), "layers must be a layer"),
    (lambda a: a.context("the bank", token=123), "token must be a text (str), got 123 (int)"),
    (lambda a: a.context("the \ud800 bank"), "texts holds a lone surrogate"),
    (lambda a: a.compare("a", "b", token=123), "token must be a text (str), got 123 (int)"),
    (lambda a: a.compare("a", None), "b must be a text (str), got None"),
    (lambda a: a.load_layers(None), "layers is None; give a layer"),
    (lambda a: a.load_layers("+2"), "layer '+2' is not a number"),
    (lambda a: a.load(kk=5), "kk is not a load option; give one of name, k,"),
    (lambda a: a.load(k="3"), "k must be a whole number, got '3' (str)"),
    (lambda a: a.load(None, "fast"), "options must be a LoadOptions, got 'fast' (str)"),
    (lambda a: a.load_layers(6, max_memory="lots"), "cannot read 'lots' as a memory size"),
    (lambda a: a.load_corpus("plays", chunks=1), "chunks must be at least 2"),
    (lambda a: a.load_corpus("plays", vectr_size=5), "vectr_size is not a load option; give one of name, k,"),
    (lambda a: a.tokens(None), "text must be a text (str), got None"),
    (lambda a: a.prompt(None), "text must be a text (str), got None"),
    (lambda a: a.prompt("the bank", k="5"), "k must be a whole number"),
    (lambda a: a.near(None), "expression must be a text (str), got None"),
    (lambda a: a.near("king", k=None), "k must be a whole number"),
    (lambda a: a.variants(None), "word must be a text (str), got None"),
    (lambda a: a.tokens("the bank", model=5), "model must be a text (str), got 5 (int)"),
]


@pytest.mark.parametrize(("call", "message"), CALLS)
def test_a_bad_argument_is_an_atlas_error_naming_it(neo4j_settings, call, message):
    with Atlas(settings=neo4j_settings) as atlas, pytest.raises(InvalidArgument) as raised:
        call(atlas)
    assert isinstance(raised.value, AtlasError)
    assert str(raised.value).startswith(message), str(raised.value)
