"""save_prompt on a real Neo4j: the prompt's Browser query, a rerun that changes nothing, hostile text."""

from __future__ import annotations

import pytest
from view_tables import ARTICLE, NASTY

from atlas.core.prompt_tokens import PromptToken, tokenize
from atlas.errors import InvalidArgument, TokenNotFound
from atlas.files.model_files import default_source, load_tokenizer
from atlas.graph.writes import save_prompt


def test_save_prompt(store, stored_minilm, article_tokens, neo4j_driver, neo4j_settings):
    table, _ = stored_minilm
    text = ARTICLE + " " + NASTY + " \\ \n"
    browse = save_prompt(store, table.name, text, article_tokens)
    assert "\n" not in browse and browse.startswith("MATCH (p:Prompt")

    def shown():
        records, _, _ = neo4j_driver.execute_query(browse, database_=neo4j_settings.database)
        assert {r["p"]["text"] for r in records} == {text}
        return [(r["h"]["position"], r["t"]["id"]) for r in records]

    assert shown() == [(t.position, t.id) for t in article_tokens]
    save_prompt(store, table.name, text, article_tokens)  # again: nothing changes
    assert shown() == [(t.position, t.id) for t in article_tokens]
    tokenizer = load_tokenizer(default_source())
    with_special = tokenize(tokenizer, ARTICLE, include_special=True)
    save_prompt(store, table.name, text, with_special)  # other tokens: links replaced
    assert shown() == [(t.position, t.id) for t in with_special]


def test_save_prompt_errors(store, stored_minilm):
    table, _ = stored_minilm
    with pytest.raises(InvalidArgument, match="no tokens"):
        save_prompt(store, table.name, "", [])
    with pytest.raises(TokenNotFound, match="prompt token 5 is not stored"):
        save_prompt(store, table.name, "x", [PromptToken(0, 5, "[unused4]")])
