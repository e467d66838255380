"""A prompt on a corpus atlas: its text cut by the model's word rule, each word found among the stored words."""

from __future__ import annotations

from atlas.core.corpus import WORD_RULE, words
from atlas.core.prompt_tokens import PromptToken
from atlas.errors import InvalidArgument
from atlas.graph.store import Store


def is_corpus_model(props: dict) -> bool:
    """Whether a Model node's ``props`` are a corpus atlas's (it records the word rule that cut its corpus)."""
    return props.get("word_rule") is not None


def corpus_tokens(store: Store, model: str, props: dict, text: str) -> tuple[list[PromptToken], list[str]]:
    """The words of ``text`` that ``model`` has, as prompt tokens in order, and the words it has not (in order, once).

    Words are cut by :func:`atlas.core.corpus.words`, the rule the corpus was cut by; a word
    the corpus had fewer than its ``min_count`` times is not in the model. InvalidArgument
    when no word of the text is.
    """
    if props.get("word_rule") != WORD_RULE:
        raise InvalidArgument(
            f"model {model!r} was cut by word rule {props.get('word_rule')!r}, which this version does not know: "
            "load the corpus again with replace=True (`atlas load --corpus ... --replace`)"
        )
    found = words(text)
    if not found:
        raise InvalidArgument("the text has no words (runs of letters or digits); give some text")
    ids = {r["text"]: int(r["id"]) for r in store.read("atlas_tokens_by_text", model=model, texts=sorted(set(found)))}
    tokens = [PromptToken(i, ids[w], w, w) for i, w in enumerate(found) if w in ids]
    missing = list(dict.fromkeys(w for w in found if w not in ids))
    if not tokens:
        raise InvalidArgument(
            f"none of the words of the text ({', '.join(missing[:5])}) is in corpus model {model!r}: "
            "give words of its corpus"
        )
    return tokens, missing
