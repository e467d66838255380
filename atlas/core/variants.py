r"""Tokenizer families, readable token text and variant keys.

A language model's vocabulary holds many spellings of one word: ``list``,
`` list``, ``List``, ``LIST``, ``_list``, ``##list``.  This module names the
word a token spells (its *variant key*) so the store can group those tokens
under one ``(:Variant {model, key})`` node, while ``lists`` keeps a group of
its own.

How a piece string (``raw``) marks spaces and word continuations depends on the
tokenizer's family, so everything here takes one of :data:`FAMILIES`:

=================  =========================  ==========================
family             ``raw``                    ``readable_text(raw)``
=================  =========================  ==========================
``byte_bpe``       ``Ġlist``, ``Ċ``, ``Ã©``    `` list``, ``\n``, ``é``
``sentencepiece``  ``▁list``, ``<0x0A>``      `` list``, ``\n``
``wordpiece``      ``list``, ``##list``       ``list``, ``##list``
``other``          anything                   unchanged
=================  =========================  ==========================

Everything here is pure: no I/O, no heavy imports.
"""

from __future__ import annotations

import json
import re
from typing import Any

from atlas.errors import InvalidArgument, TokenizerUnavailable

FAMILIES = ("wordpiece", "byte_bpe", "sentencepiece", "other")
SPACE_FAMILIES = ("byte_bpe", "sentencepiece")  # families whose word-start pieces begin with a space
MIN_WORD_LENGTH = 2  # letters in a whole word (see is_word)

SPACE_MARK = "\u2581"  # "▁", SentencePiece's visible space
WORDPIECE_PREFIX = "##"

_BYTE_PIECE = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character table used by byte-level BPE.

    Printable Latin-1 bytes map to themselves; the other 68 bytes (controls,
    space, 0x7F-0xA0, soft hyphen) map to U+0100 onwards in byte order, so
    space (0x20) is "Ġ" (U+0120) and newline (0x0A) is "Ċ" (U+010A).
    """
    keep = list(range(ord("!"), ord("~") + 1))
    keep += list(range(ord("¡"), ord("¬") + 1))
    keep += list(range(ord("®"), ord("ÿ") + 1))
    table = {b: chr(b) for b in keep}
    n = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + n)
            n += 1
    return table


_BYTE_OF_CHAR = {c: b for b, c in _bytes_to_unicode().items()}  # 256 entries


# ---------------------------------------------------------------------------
# Family detection
# ---------------------------------------------------------------------------


def _tokenizer_json(tokenizer: Any) -> dict:
    """The tokenizer's own JSON description (what ``tokenizer.json`` holds)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        tokenizer = backend
    to_str = getattr(tokenizer, "to_str", None)
    if to_str is None:
        raise TokenizerUnavailable(
            f"cannot read the tokenizer of type {type(tokenizer).__name__}: it has no "
            "`tokenizers` backend; load it with AutoTokenizer.from_pretrained(..., use_fast=True) "
            "or tokenizers.Tokenizer.from_file('tokenizer.json')"
        )
    return json.loads(to_str())


def _components(node: Any):
    """Yield every ``{"type": ...}`` dict in a normalizer/pre-tokenizer/decoder tree."""
    if isinstance(node, dict):
        if "type" in node:
            yield node
        for value in node.values():
            if isinstance(value, (dict, list)):
                yield from _components(value)
    elif isinstance(node, list):
        for item in node:
            yield from _components(item)


def _replace_strings(component: dict) -> tuple[str, str]:
    """(pattern, content) of a ``Replace`` normalizer or decoder, pattern as text."""
    pattern = component.get("pattern") or {}
    text = pattern.get("String", pattern.get("Regex", "")) if isinstance(pattern, dict) else str(pattern)
    return str(text), str(component.get("content", ""))


def detect_family(tokenizer: Any) -> str:
    """The family of a ``tokenizers.Tokenizer`` or a transformers fast tokenizer.

    Decided from the tokenizer's own JSON (model, normalizer, pre-tokenizer,
    decoder), never from the model's name; the first rule that matches wins:

    1. ``wordpiece``: the model is ``WordPiece``, or the decoder is ``WordPiece``
       (BERT, MiniLM: pieces ``list``, ``##list``).
    2. ``byte_bpe``: a ``ByteLevel`` step in the normalizer, pre-tokenizer or
       decoder (GPT-2, RoBERTa, Llama 3, Qwen: pieces ``Ġlist``, ``Ċ``).
    3. ``sentencepiece``: a ``Metaspace`` pre-tokenizer or decoder (T5,
       XLM-R), a ``Replace`` that turns "▁" into " " or " " into "▁" (Llama 2,
       Mistral, Gemma), a ``ByteFallback`` decoder, a BPE model with
       ``byte_fallback``, or a ``Unigram`` model (pieces ``▁list``, ``<0x0A>``).
    4. ``other``: anything else (a BPE or WordLevel model split on whitespace).

    >>> from tokenizers import Tokenizer, models, pre_tokenizers
    >>> tok = Tokenizer(models.BPE())
    >>> tok.pre_tokenizer = pre_tokenizers.ByteLevel()
    >>> detect_family(tok)
    'byte_bpe'

    Raises :class:`TokenizerUnavailable` for a tokenizer without a
    ``tokenizers`` backend (a "slow" transformers tokenizer).
    """
    spec = _tokenizer_json(tokenizer)
    model = spec.get("model") or {}
    parts = [c for key in ("normalizer", "pre_tokenizer", "decoder") for c in _components(spec.get(key))]
    types = {c["type"] for c in parts}

    if model.get("type") == "WordPiece" or "WordPiece" in types:
        return "wordpiece"
    if "ByteLevel" in types:
        return "byte_bpe"
    if (
        "Metaspace" in types
        or "ByteFallback" in types
        or model.get("type") == "Unigram"
        or (model.get("type") == "BPE" and model.get("byte_fallback"))
        or any(c["type"] == "Replace" and SPACE_MARK in "".join(_replace_strings(c)) for c in parts)
    ):
        return "sentencepiece"
    return "other"


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise InvalidArgument(f"unknown tokenizer family {family!r}; expected one of {', '.join(FAMILIES)}")


# ---------------------------------------------------------------------------
# Readable text
# ---------------------------------------------------------------------------


def _byte_level_bytes(raw: str) -> bytes:
    """The bytes a byte-level BPE piece stands for.

    Every character of an ordinary piece is in GPT-2's byte alphabet.  A piece
    with a character outside it (an added token such as "日本") is taken as
    UTF-8 text, which is what the ``ByteLevel`` decoder does too.
    """
    try:
        return bytes(_BYTE_OF_CHAR[c] for c in raw)
    except KeyError:
        return raw.encode("utf-8")


def readable_text(raw: str, family: str) -> str:
    r"""The text a single piece stands for, as a reader would want to see it.

    - ``byte_bpe``: GPT-2's byte alphabet is mapped back to bytes and decoded
      as UTF-8.  Bytes that are not valid UTF-8 on their own (a piece holding
      part of a multi-byte character) are shown as ``\xNN`` escapes, never as
      U+FFFD, so distinct pieces keep distinct text:
      ``"Ġlist"`` -> ``" list"``, ``"Ċ"`` -> ``"\n"``, ``"Ã©"`` -> ``"é"``,
      ``"æĹ"`` (the first two bytes of "日") -> ``"\xe6\x97"``.
    - ``sentencepiece``: every "▁" becomes a space; a byte-fallback piece
      ``<0xNN>`` becomes that byte if it is ASCII, else the escape ``\xNN``:
      ``"▁list"`` -> ``" list"``, ``"<0x0A>"`` -> ``"\n"``,
      ``"<0xE6>"`` -> ``"\xe6"``.
    - ``wordpiece``: unchanged, the ``##`` that marks a continuation piece
      stays visible: ``"##list"`` -> ``"##list"``.
    - ``other``: unchanged.

    A vocabulary may also hold the four characters ``\xe6`` as text (Qwen's
    does). So that an escape and such text never read the same, a run of
    literal backslashes right before ``x`` and two hex digits, or before an
    escaped byte, is doubled: the text ``\xaa`` reads ``\\xaa`` while the lone
    byte 0xAA reads ``\xaa``. Other backslashes (``\n``, ``\\``) stay as they are.

    For one piece this agrees with the tokenizer's own ``decode([id])`` except
    that (a) the escapes above stand where ``decode`` writes U+FFFD, and (b) a
    SentencePiece decoder drops the leading space of the first piece it
    decodes, whereas this keeps it (" list" and "list" are different pieces).
    Control characters are returned as they are; escaping them for a terminal
    or HTML is the exporter's job.

    >>> readable_text("æĹ", "byte_bpe"), readable_text("\\xaa", "byte_bpe"), readable_text("\\n", "byte_bpe")
    ('\\xe6\\x97', '\\\\xaa', '\\n')
    """
    _check_family(family)
    if family == "byte_bpe":
        return _escape_bytes(_byte_level_bytes(raw).decode("utf-8", errors="surrogateescape"))
    if family == "sentencepiece":
        byte = _BYTE_PIECE.fullmatch(raw)
        if byte is not None:
            value = int(byte.group(1), 16)
            return chr(value) if value < 0x80 else f"\\x{value:02x}"
        return _escape_bytes(raw.replace(SPACE_MARK, " "))
    return raw


_LONE_BYTE = re.compile("[\udc80-\udcff]")  # what surrogateescape makes of a byte that is not UTF-8
_BACKSLASHES_BEFORE_ESCAPE = re.compile(r"\\+(?=[xX][0-9a-fA-F]{2}|[\udc80-\udcff])")


_BYTE_ESCAPE = re.compile(r"(?<!\\)(?:\\\\)*\\x[0-9a-f]{2}")  # an odd run of backslashes, x, two hex digits


def has_byte_escape(text: str) -> bool:
    r"""Whether readable text holds an escaped lone byte: the piece is a fragment of a multi-byte character.

    >>> has_byte_escape("\\xe6\\x97"), has_byte_escape(" list"), has_byte_escape("\\\\xaa")
    (True, False, False)
    """
    return _BYTE_ESCAPE.search(text) is not None


def is_word(text: str, family: str) -> bool:
    """Whether a token is a whole word the random atlas may draw.

    A word is at least ``MIN_WORD_LENGTH`` letters (``str.isalpha``: any script,
    no digits, punctuation or brackets, so ``[unused3]``, ``<unk>`` and ``##ing`` are
    out). For byte-level BPE and SentencePiece the token must start a word: its text
    is one space followed by the letters (`` list``); a piece without the space is
    usually the inside of a word (``ization``). For WordPiece and other families the
    text is the letters alone (``##`` continuation pieces are out).

    >>> [is_word(t, "byte_bpe") for t in [" list", "list", " a", " C++"]]
    [True, False, False, False]
    >>> [is_word(t, "wordpiece") for t in ["list", "##list", "[unused3]", "café"]]
    [True, False, False, True]
    """
    if family in SPACE_FAMILIES:
        if not text.startswith(" "):
            return False
        text = text[1:]
    return len(text) >= MIN_WORD_LENGTH and text.isalpha()


def _escape_bytes(text: str) -> str:
    r"""Lone bytes (as surrogateescape decodes them) as ``\xNN``; literal backslashes before such text doubled."""
    text = _BACKSLASHES_BEFORE_ESCAPE.sub(lambda m: m.group() * 2, text)
    return _LONE_BYTE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


# ---------------------------------------------------------------------------
# Variant keys
# ---------------------------------------------------------------------------


def variant_key(raw: str, family: str, special: bool = False) -> str | None:
    r"""The word a piece spells once markers are removed and case is folded.

    Pieces with the same key are variants of one word.  The rules, in order:

    1. A special token (``[CLS]``, ``<|endoftext|>``, ``<s>``) has no key.
    2. Take :func:`readable_text`, so the family's space marks become real
       whitespace (``Ġ``/``Ċ``/``ĉ`` in byte-level BPE, ``▁`` in SentencePiece).
    3. Strip surrounding whitespace of any kind (spaces, newlines, tabs,
       indentation runs): ``"ĠĠĠlist"`` -> ``"list"``.  If nothing is left the
       piece has no key: ``"Ġ"``, ``"Ċ"``, ``"▁"``, ``"<0x0A>"`` -> ``None``.
    4. WordPiece only: drop the leading ``##`` continuation mark when something
       follows it: ``"##list"`` -> ``"list"``, but ``"##"`` stays ``"##"``.
    5. Drop leading underscores when something follows them:
       ``"_list"``, ``"▁__list"`` -> ``"list"``; ``"__init__"`` -> ``"init__"``;
       ``"_"`` stays ``"_"``.  Trailing underscores stay: ``"list_"``.
    6. ``str.casefold()``: ``"LIST"``, ``"List"`` -> ``"list"``,
       ``"Straße"`` -> ``"strasse"``.

    Nothing else is removed, so plurals, other suffixes and punctuation keep
    their own groups: ``"lists"`` -> ``"lists"``, ``".list"`` -> ``".list"``,
    ``"list:"`` -> ``"list:"``, ``"Ġ("`` -> ``"("``.  Inner spaces stay
    (``"▁of▁the"`` -> ``"of the"``).  Undecodable bytes keep their escapes
    (``"ĠæĹ"`` and ``"æĹ"`` both have the key ``\xe6\x97``).

    >>> [variant_key(p, "byte_bpe") for p in ["list", "Ġlist", "ĠList", "LIST", "_list", "Ġlists", "Ġ"]]
    ['list', 'list', 'list', 'list', 'list', 'lists', None]
    >>> variant_key("##list", "wordpiece"), variant_key("▁List", "sentencepiece")
    ('list', 'list')
    >>> variant_key("[CLS]", "wordpiece", special=True) is None
    True
    """
    _check_family(family)
    if special:
        return None
    text = readable_text(raw, family).strip()
    if family == "wordpiece" and text.startswith(WORDPIECE_PREFIX) and len(text) > len(WORDPIECE_PREFIX):
        text = text[len(WORDPIECE_PREFIX) :]
    bare = text.lstrip("_").lstrip()
    if bare:
        text = bare
    return text.casefold() or None


def group_rows(raw_pieces: list[str], special: list[bool], family: str) -> list[tuple[int, str]]:
    """``(index, key)`` for every piece that has a variant key, ``index`` being its place in ``raw_pieces``.

    ``raw_pieces[i]`` and ``special[i]`` describe the same token (row ``i`` of an
    embedding table, whose token id is ``ids[i]``).  Pieces without a key
    (special, whitespace-only) are left out.

    >>> group_rows(["[CLS]", "list", "##list", "lists"], [True, False, False, False], "wordpiece")
    [(1, 'list'), (2, 'list'), (3, 'lists')]
    """
    _check_family(family)
    if len(raw_pieces) != len(special):
        raise ValueError(f"raw_pieces has {len(raw_pieces)} entries but special has {len(special)}")
    rows = []
    for index, (raw, is_special) in enumerate(zip(raw_pieces, special)):
        key = variant_key(raw, family, is_special)
        if key is not None:
            rows.append((index, key))
    return rows
