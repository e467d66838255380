"""Checking the arguments of public calls: one line naming the parameter, an InvalidArgument, before any work.

Every public :class:`atlas.Atlas` method checks what it is given with these, so a wrong type or
value never surfaces as a TypeError from deep inside; the same layer forms are accepted
everywhere (:func:`layers`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from atlas.errors import InvalidArgument

_NUMBER = re.compile(r"-?[0-9]+")  # ASCII digits only: '٣' and '+2' are not layer numbers
_RANGE = re.compile(r"([0-9]+)\s*-\s*([0-9]+)")


def _kind(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def text(value: Any, parameter: str, *, optional: bool = False) -> str | None:
    """``value`` if it is a str of valid Unicode (None too when ``optional``); InvalidArgument naming ``parameter``.

    >>> text("bank", "token")
    'bank'
    >>> text(123, "token")
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: token must be a text (str), got 123 (int)
    """
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise InvalidArgument(f"{parameter} must be a text (str), got {_kind(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as bad:
        raise InvalidArgument(
            f"{parameter} holds a lone surrogate ({value[bad.start]!r} at {bad.start}), not valid Unicode text; "
            "give text that can be written as UTF-8"
        ) from None
    return value


def texts(value: Any, parameter: str) -> list[str]:
    """One text or a list of texts, as a non-empty list, each checked by :func:`text`.

    >>> texts("the bank", "texts")
    ['the bank']
    >>> texts([None], "texts")
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: texts[0] must be a text (str), got None (NoneType)
    """
    if isinstance(value, str):
        return [str(text(value, parameter))]
    if not isinstance(value, Sequence):
        raise InvalidArgument(f"{parameter} must be a text or a list of texts, got {_kind(value)}")
    found = [str(text(item, f"{parameter}[{i}]")) for i, item in enumerate(value)]
    if not found:
        raise InvalidArgument(f"{parameter} is empty; give at least one text")
    return found


def integer(value: Any, parameter: str, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int when it is a whole number (not a bool, str or float) within ``low..high``.

    >>> integer(3, "k", 1, 1000)
    3
    >>> integer("3", "k", 1, 1000)
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: k must be a whole number, got '3' (str)
    """
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidArgument(f"{parameter} must be a whole number, got {_kind(value)}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        if low is not None and high is not None:
            span = f"between {low} and {high}"
        else:
            span = f"at least {low}" if low is not None else f"at most {high}"
        raise InvalidArgument(f"{parameter} must be {span}, got {number}")
    return number


def number(value: Any, parameter: str, above: float | None = None) -> float:
    """``value`` as a float when it is a real number (not a bool or str), above ``above`` when given.

    >>> number(20, "resolution", above=0)
    20.0
    >>> number(0, "resolution", above=0)
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: resolution must be above 0, got 0
    """
    import numbers

    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgument(f"{parameter} must be a number, got {_kind(value)}")
    number = float(value)
    if above is not None and not number > above:
        raise InvalidArgument(f"{parameter} must be above {above:g}, got {value}")
    return number


def choice(value: Any, parameter: str, choices: Sequence[str]) -> str:
    """``value`` when it is one of ``choices``.

    >>> choice("cuda", "device", ("auto", "cpu", "cuda"))
    'cuda'
    >>> choice("gpu", "device", ("auto", "cpu", "cuda"))
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: device must be one of auto, cpu, cuda, got 'gpu'
    """
    if not isinstance(value, str) or value not in choices:
        raise InvalidArgument(f"{parameter} must be one of {', '.join(choices)}, got {value!r}")
    return value


def layers_given(spec: Any, parameter: str = "layers", *, optional: bool = False) -> None:
    """Refuse, before a model is read, a ``spec`` that :func:`layers` could never take (the range is checked there).

    >>> layers_given(None)
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: layers is None; give a layer (6), a text like '0,3,6', '0-6' or 'all', or a list of layers
    """
    if spec is None:
        if optional:
            return
        raise InvalidArgument(
            f"{parameter} is None; give a layer (6), a text like '0,3,6', '0-6' or 'all', or a list of layers"
        )
    items = [spec] if isinstance(spec, (str, int)) else spec
    if isinstance(spec, bool) or not isinstance(items, Sequence):
        raise InvalidArgument(
            f"{parameter} must be a layer, a text like '0,3,6' or 'all', or a list, got {_kind(spec)}"
        )
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise InvalidArgument(f"{parameter} holds {_kind(item)}; give layers as whole numbers")
        for part in str(item).split(","):
            word = part.strip().lower()
            if word and word != "all" and not (_RANGE.fullmatch(word) or _NUMBER.fullmatch(word)):
                raise InvalidArgument(
                    f"layer {part.strip()!r} is not a number; give layers as numbers or ranges (2-4), a comma list, "
                    "or 'all'"
                )


def layers(spec: Any, count: int, model: str = "the model", parameter: str = "layers") -> list[int]:
    """The layers ``spec`` names, sorted without repeats, checked against a model of ``count`` blocks (layers 0..count).

    ``spec`` is a layer (int), a text of comma-separated layers or ranges (``"0,3,6"``, ``"0-6"``),
    ``"all"`` (or None), or a list of any of these. Layer numbers are ASCII digits.

    >>> layers(6, 6), layers("0-2,6", 6), layers(["all"], 2), layers([2, "4"], 6)
    ([6], [0, 1, 2, 6], [0, 1, 2], [2, 4])
    >>> layers("+2", 6)
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: layer '+2' is not a number; give layers as numbers or ranges (2-4) in 0..6, a comma list, or 'all'
    """
    if spec is None:
        return list(range(count + 1))
    items = [spec] if isinstance(spec, (str, int)) else spec
    if not isinstance(items, Sequence):
        raise InvalidArgument(
            f"{parameter} must be a layer, a text like '0,3,6' or 'all', or a list, got {_kind(spec)}"
        )
    wanted: list[int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int)):
            raise InvalidArgument(f"{parameter} holds {_kind(item)}; give layers as whole numbers in 0..{count}")
        for part in str(item).split(","):
            word = part.strip().lower()
            span = _RANGE.fullmatch(word)
            if word == "all":
                wanted.extend(range(count + 1))
            elif span is not None:
                first, last = int(span.group(1)), int(span.group(2))
                if first > last:
                    raise InvalidArgument(f"layer range {word!r} runs backwards; write it as {last}-{first}")
                wanted.extend(range(first, last + 1))
            elif _NUMBER.fullmatch(word):
                wanted.append(int(word))
            elif word or not isinstance(item, str):
                raise InvalidArgument(
                    f"layer {part.strip()!r} is not a number; give layers as numbers or ranges (2-4) in 0..{count}, "
                    "a comma list, or 'all'"
                )
    if not wanted:
        raise InvalidArgument(f"{parameter} names no layer; give numbers like 0,3,6, a range like 0-{count}, or 'all'")
    outside = [layer for layer in wanted if not 0 <= layer <= count]
    if outside:
        raise InvalidArgument(
            f"layer {outside[0]} is out of range: {model} has layers 0..{count} "
            "(0 is the embedding layer's output, L the output of block L)"
        )
    return sorted(set(wanted))
