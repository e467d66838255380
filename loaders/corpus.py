"""Corpus atlases: the words of a text corpus as tokens, with TF-IDF or word2vec vectors.

The article this project follows walks from counting (TF-IDF) to prediction (word2vec) to a
transformer's embeddings. A corpus load turns a text corpus into the pipeline's one small
object (:class:`~atlas.loaders.source.EmbeddingTable`): its words (cut by
:func:`atlas.core.corpus.words`, counted at least ``min_count`` times) are the tokens, most
frequent first, each with its count; the vectors are

- ``tfidf``: the article's TF-IDF, the corpus cut into ``chunks`` equal documents
  (:func:`atlas.core.corpus.tfidf`), one dimension per chunk;
- ``word2vec``: gensim's ``Word2Vec`` trained on the corpus's lines (CBOW, or skip-gram),
  on one worker thread with a fixed seed, so the same corpus and options give the same
  vectors and the same graph (one thread is what gensim needs for that: training does not
  use a second core).

From there the load is every model's: exact neighbours, variant groups (a word's case
forms), verify, analysis. The Model node records the method, the corpus and every option.
"""

from __future__ import annotations

import zlib
from collections import Counter
from pathlib import Path

import numpy as np

from atlas.core import corpus as rule
from atlas.core.load_options import CorpusOptions
from atlas.core.progress import Note, StageProgress, ignore
from atlas.errors import InvalidArgument
from atlas.files.corpus_text import CorpusText, read_corpus

from .source import EmbeddingTable

FAMILY = "other"  # words are their own text: no space marks, no ## pieces; variant keys fold case


def default_corpus_name(path: str | Path, method: str) -> str:
    """``<file or folder name>-<method>``, e.g. ``plays-word2vec``."""
    resolved = Path(path).expanduser().resolve()
    stem = resolved.stem if resolved.is_file() else resolved.name
    return f"{stem or 'corpus'}-{method}"


def load_corpus_table(
    path: str | Path,
    options: CorpusOptions,
    *,
    name: str | None = None,
    k: int = 20,
    on_progress: StageProgress | None = None,
    on_note: Note | None = None,
    stored: dict | None = None,
) -> EmbeddingTable:
    """Read the corpus at ``path`` and make its words' vectors as ``options`` say (checked when they were made).

    ``k`` is the load's: a corpus with fewer than ``k + 1`` words is refused here, naming it.
    ``stored`` is the Model node of ``name`` when one exists: when it is complete and records
    this corpus (same bytes), these options and ``k``, the vectors are not made again (the
    table's matrix is zeros of the stored shape), since the load will find nothing to write.
    """
    note = on_note or ignore
    tell = on_progress or ignore
    corpus = read_corpus(path)
    if corpus.latin1:
        shown = ", ".join(corpus.latin1[:3]) + (f" and {len(corpus.latin1) - 3} more" if len(corpus.latin1) > 3 else "")
        note(f"read as Latin-1 (not UTF-8): {shown}")
    lines = [rule.words(line) for line in corpus.text.splitlines()]
    lines = [line for line in lines if line]
    sequence = [w for line in lines for w in line]
    where = f"corpus {corpus.path!r}"
    if not sequence:
        raise InvalidArgument(f"{where} has no words (runs of letters or digits): give some text")
    rule.check_words(sequence, where)
    counts = Counter(sequence)
    vocab = rule.vocabulary(counts, options.min_count)
    if len(vocab) < k + 1:
        raise InvalidArgument(
            f"{where} has {len(vocab):,} words counted at least {options.min_count} times; k={k} neighbours need "
            f"at least {k + 1}: give more text, a lower min_count or a smaller k"
        )
    if options.method == "tfidf":
        rule.chunk_bounds(len(sequence), options.chunks)  # more chunks than words is refused before the work
    note(f"{len(corpus.files):,} files, {len(sequence):,} words, {len(vocab):,} of them counted >= {options.min_count}")
    name = name or default_corpus_name(path, options.method)
    dim = options.chunks if options.method == "tfidf" else options.vector_size
    if stored is not None and _same(stored, corpus, sequence, vocab, options, dim, k):
        note(f"model {name!r} is complete with this corpus and these options: its vectors are not made again")
        return _table(corpus, vocab, counts, np.zeros((len(vocab), dim), np.float32), options, name)
    if options.method == "tfidf":
        tell("tfidf", 0, 1)
        matrix = rule.tfidf(sequence, vocab, options.chunks)
        tell("tfidf", 1, 1)
        zero = int((~matrix.any(axis=1)).sum())
        if zero:
            note(
                f"{zero:,} words occur in every chunk: idf 0, a zero vector, no direction, so no neighbours "
                "(their `zero_ids` are on the Model node)"
            )
    else:
        matrix = train_word2vec(lines, vocab, options, tell)
    return _table(corpus, vocab, counts, matrix, options, name)


def _same(
    stored: dict, corpus: CorpusText, sequence: list[str], vocab: list[str], options: CorpusOptions, dim: int, k: int
) -> bool:
    """Whether the stored Model node is complete and records exactly this corpus, these options and ``k``."""
    wanted = {
        **_props(corpus, len(sequence), options),
        "source": corpus.path,
        "vocab_size": len(vocab),
        "dim": dim,
        "k": k,
        "status": "complete",
    }
    return all(stored.get(key) == value for key, value in wanted.items())


def _props(corpus: CorpusText, words: int, options: CorpusOptions) -> dict:
    return {
        **options.recorded(),
        "method": options.method,
        "word_rule": rule.WORD_RULE,
        "corpus_files": corpus.files,
        "corpus_words": words,
        "corpus_sha256": corpus.sha256,
    }


def train_word2vec(lines: list[list[str]], vocab: list[str], options: CorpusOptions, tell: StageProgress) -> np.ndarray:
    """gensim's Word2Vec on ``lines`` (sentences of words), one worker, seeded: rows in ``vocab`` order."""
    from gensim.models import Word2Vec

    total = options.train_epochs
    tell("word2vec", 0, total)
    model = Word2Vec(
        vector_size=options.vector_size,
        window=options.window,
        min_count=options.min_count,
        sg=1 if options.skip_gram else 0,
        seed=options.train_seed,
        workers=1,  # gensim is deterministic on one worker thread only
        hashfxn=_stable_hash,  # Python's str hash changes from process to process
    )
    model.build_vocab(lines)
    model.train(lines, total_examples=model.corpus_count, epochs=total)
    tell("word2vec", total, total)
    vectors = model.wv
    return np.stack([vectors[w] for w in vocab]).astype(np.float32)


def _stable_hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def _table(
    corpus: CorpusText, vocab: list[str], counts: Counter, matrix: np.ndarray, options: CorpusOptions, name: str
) -> EmbeddingTable:
    n = len(vocab)
    props = _props(corpus, sum(counts.values()), options)
    return EmbeddingTable(
        name=name,
        source=corpus.path,
        matrix=np.ascontiguousarray(matrix, dtype=np.float32),
        ids=np.arange(n, dtype=np.int64),
        raw=list(vocab),
        text=list(vocab),
        special=[False] * n,
        family=FAMILY,
        matrix_rows=n,
        counts=np.array([counts[w] for w in vocab], dtype=np.int64),
        props=props,
    )
