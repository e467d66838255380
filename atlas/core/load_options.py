"""Every option of a load, written once: its default, its check and its help.

:meth:`atlas.Atlas.load`, :meth:`~atlas.Atlas.load_layers` and :meth:`~atlas.Atlas.load_corpus`
take a :class:`LoadOptions`, or its fields as keywords; a corpus atlas takes a
:class:`CorpusOptions` (or its fields) besides. ``atlas load`` makes one option of each field,
with the field's default and help (:mod:`atlas.cli.options`), so the command, the library and
their help cannot drift apart. Options are checked when they are made: a wrong type or value
is one InvalidArgument naming the field, before any model is read.

>>> LoadOptions(k=5, dtype="float32").k
5
>>> LoadOptions(batch_size=0)
Traceback (most recent call last):
atlas.errors.InvalidArgument: batch_size must be at least 1, got 0
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from atlas.core import arguments
from atlas.core.token_text import check_model_name
from atlas.core.units import parse_bytes
from atlas.errors import InvalidArgument
from atlas.settings import EPOCHS, RESOLUTION

DEVICES = ("auto", "cpu", "cuda")  # "auto": cuda when torch sees a GPU, else cpu
DTYPES = ("float32", "bfloat16")  # what neighbours are computed in
DTYPE_CHOICES = ("auto", *DTYPES)  # what a load may ask for: "auto" picks one of DTYPES by the hardware
METHODS = ("word2vec", "tfidf")  # how a corpus becomes vectors

Options = TypeVar("Options", bound="_Options")


def option(default: Any, help: str, **cli: Any) -> Any:
    """A field with its ``help``, which ``atlas load --help`` shows.

    ``cli`` says how the command spells it where it differs from ``--field-name``: ``flag``
    (another name), ``flag_help`` (the help of a flag that turns off what is on by default),
    ``choices``, ``envvar``.
    """
    return field(default=default, metadata={"help": help, **cli})


class _Options:
    """What the options objects share: made from an object and keywords, and said in words."""

    @classmethod
    def given(cls: type[Options], options: Options | None, settings: dict[str, Any]) -> Options:
        """``options`` (the defaults when None) with ``settings`` (field name -> value) in place, checked.

        >>> LoadOptions.given(LoadOptions(k=5), {"dtype": "float32"}).k
        5
        >>> LoadOptions.given(None, {"kk": 5})
        Traceback (most recent call last):
        atlas.errors.InvalidArgument: kk is not a load option; give one of name, k, replace, device, dtype, batch_size, block_rows, max_memory, offline, analyse, resolution, seed, epochs, vectors, allow_short_matrix, state_batch
        """
        if options is not None and not isinstance(options, cls):
            raise InvalidArgument(f"options must be a {cls.__name__}, got {options!r} ({type(options).__name__})")
        (own,) = split(settings, cls)
        return dataclasses.replace(options or cls(), **own)  # type: ignore[type-var]


def split(settings: dict[str, Any], *kinds: type) -> list[dict[str, Any]]:
    """``settings`` (keyword -> value) parted by which of the options classes ``kinds`` has a field of that name;
    InvalidArgument for a keyword that none has.

    >>> split({"k": 5, "chunks": 3}, LoadOptions, CorpusOptions)
    [{'k': 5}, {'chunks': 3}]
    """
    names = [[f.name for f in dataclasses.fields(kind)] for kind in kinds]
    for key in settings:
        if not any(key in own for own in names):
            known = ", ".join(name for own in names for name in own)
            raise InvalidArgument(f"{key} is not a load option; give one of {known}")
    return [{key: value for key, value in settings.items() if key in own} for own in names]


@dataclass(frozen=True)
class LoadOptions(_Options):
    """How a load reads a model, computes its exact neighbours, stores them and analyses them.

    Every field has a default and a help text (``dataclasses.fields(LoadOptions)[i].metadata["help"]``);
    ``atlas load`` has an option for each (``--no-analysis`` for ``analyse``).
    """

    name: str | None = option(
        None,
        "Name to store the model under (default: all-MiniLM-L6-v2 for the bundled model, else the source; "
        "for a corpus, FILE-METHOD): some text, without control characters or spaces at its ends.",
    )
    k: int = option(20, "Neighbours per token.")
    replace: bool = option(False, "Delete the stored model of that name first, then load.")
    device: str = option("auto", "Where to compute: cpu, cuda, or auto (cuda when torch sees a GPU).", choices=DEVICES)
    dtype: str = option(
        "float32",
        "float32 is exact; bfloat16 picks candidates at low precision and re-scores them in float32 (can miss a "
        "neighbour: 0.27 % of MiniLM's), faster only on a GPU or a CPU with bfloat16 instructions (elsewhere "
        "float32 is used, and said); auto picks bfloat16 where it is faster, else float32. The Model node records "
        "the dtype used.",
        choices=DTYPE_CHOICES,
    )
    batch_size: int = option(20_000, "Tokens or edges per write transaction.")
    block_rows: int = option(1024, "Rows per similarity block.")
    max_memory: str | int | None = option(
        None, "Bound the neighbour computation's working memory, e.g. 2GB, or in bytes (sets the block rows)."
    )
    offline: bool = option(False, "Use only the local Hugging Face cache.", envvar="HF_HUB_OFFLINE")
    analyse: bool = option(
        True,
        "Analyse at the end: communities, hubs, mutual pairs and the map.",
        flag="--no-analysis",
        flag_help="Store the graph only; `atlas analyse` adds communities, hubs and the map later.",
    )
    resolution: float = option(RESOLUTION, "Leiden resolution: higher gives more, smaller communities.")
    seed: int = option(0, "Seed of communities and layout.")
    epochs: int = option(EPOCHS, "UMAP layout epochs.")
    vectors: bool = option(
        False, "Also store each token's unit embedding and a vector index on it (see `atlas vectors`)."
    )
    allow_short_matrix: bool = option(
        False,
        "Load a matrix with fewer rows than the tokenizer has tokens, leaving out the tokens past its end.",
    )
    state_batch: int = option(512, "Layer atlases: tokens run through the model at once.")

    def __post_init__(self) -> None:
        if self.name is not None:
            check_model_name(str(arguments.text(self.name, "name")))
        for key in ("k", "batch_size", "block_rows", "state_batch", "epochs"):
            arguments.integer(getattr(self, key), key, 1)
        arguments.integer(self.seed, "seed")
        arguments.number(self.resolution, "resolution", above=0)
        arguments.choice(self.device, "device", DEVICES)
        arguments.choice(self.dtype, "dtype", DTYPE_CHOICES)
        self.memory_limit()

    def memory_limit(self) -> int | None:
        """``max_memory`` in bytes (None: no bound).

        >>> LoadOptions(max_memory="2GB").memory_limit()
        2147483648
        """
        if self.max_memory is None:
            return None
        if isinstance(self.max_memory, str):
            return parse_bytes(self.max_memory)
        return arguments.integer(self.max_memory, "max_memory", 1)


@dataclass(frozen=True)
class CorpusOptions(_Options):
    """How a corpus becomes vectors; every field is recorded on the Model node (``corpus_`` + name)."""

    method: str = option(
        "word2vec",
        "Corpus atlases: word2vec (gensim's, trained on the corpus) or tfidf (the article's, over equal chunks).",
    )
    min_count: int = option(5, "Corpus atlases: keep the words counted at least this often.")
    chunks: int = option(10, "tfidf: equal chunks taken as documents.")
    vector_size: int = option(100, "word2vec: dimensions.")
    window: int = option(5, "word2vec: context words either side.")
    train_epochs: int = option(5, "word2vec: passes over the corpus.")
    skip_gram: bool = option(False, "word2vec: skip-gram instead of CBOW.")
    train_seed: int = option(0, "word2vec: seed of the training.")

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise InvalidArgument(f"unknown corpus method {self.method!r}: use one of {', '.join(METHODS)}")
        for key in ("min_count", "vector_size", "window", "train_epochs"):
            arguments.integer(getattr(self, key), key, 1)
        arguments.integer(self.train_seed, "train_seed")
        if arguments.integer(self.chunks, "chunks") < 2:
            raise InvalidArgument(f"chunks must be at least 2 (documents to compare a word across), got {self.chunks}")

    def recorded(self) -> dict:
        """The options that shape this method's vectors, as Model-node properties."""
        used = {"min_count"} | (
            {"chunks"}
            if self.method == "tfidf"
            else {"vector_size", "window", "train_epochs", "skip_gram", "train_seed"}
        )
        return {f"corpus_{key}": value for key, value in asdict(self).items() if key in used}

    def describe(self) -> str:
        if self.method == "tfidf":
            return f"TF-IDF over {self.chunks} equal chunks, idf = ln(N/df), words counted >= {self.min_count}"
        kind = "skip-gram" if self.skip_gram else "CBOW"
        return (
            f"word2vec {kind}, {self.vector_size} dims, window {self.window}, {self.train_epochs} epochs, "
            f"seed {self.train_seed}, words counted >= {self.min_count}"
        )
