"""Token text is untrusted: how it is shown on a terminal, as a label, in XML and inside an HTML script.

Control characters (C0, DEL, C1), line and paragraph separators and the bidirectional
controls that reorder what follows them (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F,
U+061C) never reach a terminal or a label as themselves: they are written as visible
escapes. JSON and CSV exports keep the exact text; these functions are for what a
person reads.
"""

from __future__ import annotations

import json
import re

from atlas.errors import InvalidArgument

# what must not act on a terminal or a page: C0, DEL, C1, separators, bidi controls, lone surrogates
_CONTROL = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]"
)
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _escape_char(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _escape_control(match: re.Match) -> str:
    return _NAMED.get(match.group()) or _escape_char(match)


def escape_controls(text: str) -> str:
    r"""``text`` with control and bidi characters written as visible escapes, nothing else changed.

    For a line that holds token text among other words, such as a subgraph's title:
    readable rather than reversible (a backslash already in the text is kept as is).

    >>> print(escape_controls("atlas of \x1b[2J\x07, \u202egnp.exe, k=3"))
    atlas of \x1b[2J\x07, \u202egnp.exe, k=3
    """
    return _CONTROL.sub(_escape_control, text)


def check_model_name(name: str) -> str:
    r"""``name`` if it can name a stored model; InvalidArgument saying why not.

    A name is some text, without control or bidi characters and without spaces at its ends:
    it is shown on terminals, in pages and in Cypher a user types.

    >>> check_model_name("all-MiniLM-L6-v2@6")
    'all-MiniLM-L6-v2@6'
    >>> check_model_name("esc\x1b]0;X\x07")
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: the model name 'esc\x1b]0;X\x07' holds control characters (\x07\x1b); give a name without them
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgument(f"a model name must be some text, not {name!r}; give one as name=... (--name)")
    found = sorted(set(_CONTROL.findall(name)))
    if found:
        shown = "".join(escape_controls(c) for c in found)
        raise InvalidArgument(f"the model name {name!r} holds control characters ({shown}); give a name without them")
    if name != name.strip():
        raise InvalidArgument(f"the model name {name!r} starts or ends with a space; give it without them")
    return name


def terminal_text(text: str) -> str:
    r"""Token text in double quotes, safe to print on a terminal.

    Backslash and quote are escaped as in JSON; control and bidi characters become
    visible escapes, so ESC sequences, BEL or a right-to-left override in a token
    cannot clear the screen, ring or reverse the line.

    >>> print(terminal_text(' list\n'), terminal_text('a"b\\'), terminal_text('\x1b[2J\x07'), terminal_text('\u202egnp.exe'))
    " list\n" "a\"b\\" "\x1b[2J\x07" "\u202egnp.exe"
    """
    return '"' + escape_controls(text.replace("\\", "\\\\").replace('"', '\\"')) + '"'


def display_text(text: str) -> str:
    r"""The label a person sees on a drawing: control and bidi characters escaped, spaces shown as ``␣``.

    >>> display_text(" list\n")
    '␣list\\n'
    >>> display_text("")
    '∅'
    >>> display_text("\u202eabc")
    '\\u202eabc'
    """
    if not text:
        return "∅"
    return _CONTROL.sub(_escape_control, text).replace(" ", "␣")


def visible_text(text: str) -> str:
    r"""``text`` with the characters XML 1.0 cannot hold written as ``\xNN`` / ``\uNNNN``.

    Tab, newline and carriage return are kept. A backslash is kept as is, so the
    escape is readable rather than reversible.

    >>> visible_text("a\x00b\x1b\t")
    'a\\x00b\\x1b\t'
    """
    return _XML_ILLEGAL.sub(_escape_char, text)


def script_json(data) -> str:
    """JSON that is safe inside an HTML ``<script>`` element.

    ``<``, ``>``, ``&``, U+2028 and U+2029 only occur inside JSON strings, where the
    ``\\uXXXX`` escapes mean the same, so ``</script>`` or ``<!--`` in token text
    cannot end the element.

    >>> script_json({"t": "</script>&"})
    '{"t": "\\\\u003c/script\\\\u003e\\\\u0026"}'
    """
    text = json.dumps(data, ensure_ascii=False, sort_keys=True)
    for char in "<>&\u2028\u2029":
        text = text.replace(char, f"\\u{ord(char):04x}")
    return text


def aligned_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A plain table as lines: columns padded to their widest cell, two spaces apart, no trailing spaces.

    >>> aligned_table(["id", "token"], [["1", "cat"], ["1042", "dog"]])
    ['id    token', '1     cat', '1042  dog']
    """
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
