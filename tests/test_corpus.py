"""Corpus atlases: the word rule and TF-IDF against references, and `atlas load --corpus` on a real corpus and Neo4j.

The corpus is gensim's own small real one (the Lee background corpus, 300 news stories),
so nothing here needs the network.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from conftest import error_line

from atlas.core.corpus import chunk_bounds, tfidf, vocabulary, words
from atlas.core.principal import principal_plane
from atlas.core.topk import all_neighbours
from atlas.errors import InvalidArgument
from atlas.files.corpus_text import read_corpus
from atlas.graph.store import Store
from atlas.loaders.corpus import CorpusOptions, load_corpus_table


@pytest.fixture(scope="module")
def lee() -> str:
    from gensim.test.utils import datapath

    return datapath("lee_background.cor")


# --- pure parts against references ----------------------------------------------------------------


def tfidf_reference(sequence: list[str], vocab: list[str], chunks: int) -> np.ndarray:
    """The article's formula, word by word and chunk by chunk."""
    n = len(sequence)
    docs = [sequence[n * d // chunks : n * (d + 1) // chunks] for d in range(chunks)]
    out = np.zeros((len(vocab), chunks))
    for i, word in enumerate(vocab):
        df = sum(word in doc for doc in docs)
        for d, doc in enumerate(docs):
            out[i, d] = doc.count(word) / len(doc) * math.log(chunks / df)
    return out


def test_tfidf_is_the_articles_formula():
    rng = np.random.default_rng(3)
    sequence = [f"w{int(x)}" for x in rng.zipf(1.6, size=3000) if x < 400]
    vocab = vocabulary(Counter(sequence), 2)
    got = tfidf(sequence, vocab, 7)
    np.testing.assert_allclose(got, tfidf_reference(sequence, vocab, 7), rtol=1e-5, atol=1e-9)
    everywhere = [w for w in vocab if all(w in sequence[a:b] for a, b in chunk_bounds(len(sequence), 7))]
    assert everywhere and np.flatnonzero(~got.any(axis=1)).tolist() == [vocab.index(w) for w in everywhere]


def test_chunks_must_be_between_two_and_the_number_of_words():
    assert chunk_bounds(5, 5) == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
    with pytest.raises(InvalidArgument, match=r"chunks must be at least 2 .*got 1"):
        chunk_bounds(100, 1)
    with pytest.raises(InvalidArgument, match=r"chunks=6 is more than the corpus's 5 words"):
        chunk_bounds(5, 6)


def test_the_word_rule_keeps_case_and_inner_apostrophes():
    assert words("KING Lear's 'tis-- o'er\tthe 1599 cafés") == ["KING", "Lear's", "tis", "o'er", "the", "1599", "cafés"]
    assert words("... -- !!") == []


def test_a_file_that_is_not_utf8_is_read_as_latin1_and_hashed_as_read(tmp_path):
    data = "Caf\xe9 and na\xefve words\n".encode("latin-1")
    (tmp_path / "a.txt").write_bytes(data)
    (tmp_path / "b.txt").write_text("plain words\n", encoding="utf-8")
    corpus = read_corpus(tmp_path)
    assert corpus.files == ["a.txt", "b.txt"] and corpus.latin1 == ["a.txt"]
    assert words(corpus.text) == ["Café", "and", "naïve", "words", "plain", "words"]
    assert corpus.sha256 == hashlib.sha256(data + b"plain words\n").hexdigest()


def test_word2vec_gives_the_same_vectors_in_another_process(lee):
    code = (
        "import hashlib, sys; from atlas.loaders.corpus import CorpusOptions, load_corpus_table; "
        "t = load_corpus_table(sys.argv[1], CorpusOptions(train_epochs=2)); "
        "print(hashlib.sha256(t.matrix.tobytes()).hexdigest())"
    )
    digests = {
        subprocess.run([sys.executable, "-c", code, lee], capture_output=True, text=True, check=True).stdout
        for _ in range(2)
    }
    here = load_corpus_table(lee, CorpusOptions(train_epochs=2))
    assert digests == {hashlib.sha256(here.matrix.tobytes()).hexdigest() + "\n"}
    other = load_corpus_table(lee, CorpusOptions(train_epochs=2, train_seed=1))
    assert not np.array_equal(here.matrix, other.matrix)


# --- the load, through the CLI ----------------------------------------------------------------------


def stored_neighbours(neo4j_settings, name: str, text: str) -> list[tuple[str, float]]:
    with Store(neo4j_settings) as store:
        rows = store.read("tokens_by_text", model=name, text=text)
        got = store.driver.execute_query(
            "MATCH (t:Token {model: $m, id: $id})-[r:SIMILAR_TO]->(n) RETURN n.text AS text, r.score AS score "
            "ORDER BY r.rank",
            m=name,
            id=rows[0]["id"],
            database_=neo4j_settings.database,
        ).records
    return [(r["text"], r["score"]) for r in got]


def test_word2vec_load_stores_the_exact_graph_and_records_its_corpus(run, lee, model_name, neo4j_settings):
    result = run("load", "--corpus", lee, "--name", model_name, "--k", 5, "--train-epochs", 2, "--no-analysis")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"1 files, 60,602 words, 1,906 of them counted >= 5", result.stderr), result.stderr
    table = load_corpus_table(lee, CorpusOptions(train_epochs=2))
    ids, scores = all_neighbours(table.matrix, 5)
    row = table.text.index("government")
    got = stored_neighbours(neo4j_settings, model_name, "government")
    assert [t for t, _ in got] == [table.text[i] for i in ids[row]]
    np.testing.assert_allclose([s for _, s in got], scores[row], rtol=1e-6)

    model = json.loads(run("models", "--json").stdout)
    model = next(m for m in model if m["name"] == model_name)
    assert model["status"] == "complete" and model["tokens"] == 1906 and model["edges"] == 1906 * 5
    with Store(neo4j_settings) as store:
        props = store.model(model_name)
        counts = Counter(words(Path(lee).read_text(encoding="utf-8")))
        count = store.read("tokens_by_text", model=model_name, text="the")
        stored = store.driver.execute_query(
            "MATCH (t:Token {model: $m, text: 'the'}) RETURN t.count AS n",
            m=model_name,
            database_=neo4j_settings.database,
        ).records[0]["n"]
    assert count and stored == counts["the"]
    assert props["method"] == "word2vec" and props["word_rule"] == "letters-v1"
    assert props["corpus_sha256"] == hashlib.sha256(Path(lee).read_bytes()).hexdigest()
    assert props["corpus_files"] == ["lee_background.cor"] and props["corpus_words"] == 60602
    assert (props["corpus_vector_size"], props["corpus_window"], props["corpus_train_epochs"]) == (100, 5, 2)
    assert (props["corpus_skip_gram"], props["corpus_train_seed"], props["corpus_min_count"]) == (False, 0, 5)

    again = run("load", "--corpus", lee, "--name", model_name, "--k", 5, "--train-epochs", 2, "--no-analysis")
    assert again.exit_code == 0 and "already loaded with these settings; nothing to do" in again.stderr
    assert "is complete with this corpus and these options: its vectors are not made again" in again.stderr
    other = run("load", "--corpus", lee, "--name", model_name, "--k", 5, "--train-epochs", 3, "--no-analysis", "-q")
    assert "is already stored with other settings" in error_line(other)

    prompt = run("prompt", "to be or not to be the government", "--model", model_name, "--k", 3, "--format", "json")
    assert prompt.exit_code == 0, prompt.stderr
    seeds = {n["text"] for n in json.loads(prompt.stdout)["nodes"] if n.get("seed")}
    assert {"government", "the", "be", "to", "not"} <= seeds


def test_tfidf_load_says_how_many_words_have_no_direction(run, lee, model_name, neo4j_settings):
    result = run("load", "--corpus", lee, "--method", "tfidf", "--name", model_name, "--k", 5)
    assert result.exit_code == 0, result.stderr
    table = load_corpus_table(lee, CorpusOptions(method="tfidf"))
    zero = np.flatnonzero(~table.matrix.any(axis=1))
    assert len(zero) > 10 and table.text[0] in [table.text[i] for i in zero]  # "the" is in every chunk
    assert f"{len(zero):,} words occur in every chunk: idf 0, a zero vector" in result.stderr
    assert "analysed:" in result.stderr
    with Store(neo4j_settings) as store:
        props = store.model(model_name)
    assert sorted(props["zero_ids"]) == zero.tolist() and props["dim"] == 10 and props["corpus_chunks"] == 10
    assert stored_neighbours(neo4j_settings, model_name, table.text[0]) == []
    assert "is a corpus atlas of" in error_line(run("vectors", "--model", model_name, "-q"))
    assert "is a corpus atlas of" in error_line(run("near", "president - man", "--model", model_name))
    tokens = error_line(run("tokens", "the president", "--model", model_name))
    assert "keeps its vectors only in the graph, and they are not stored" in tokens
    variants = run("variants", "government", "--model", model_name, "--json")
    assert variants.exit_code == 0, variants.stderr
    assert {"government", "Government"} <= {t["text"] for t in json.loads(variants.stdout)["tokens"]}


def test_the_pca_map_is_the_principal_plane_of_the_stored_vectors(
    run, lee, model_name, neo4j_settings, neo4j_driver, tmp_path
):
    """The article's figure: `atlas map --layout pca` places each word where PCA of its TF-IDF vector puts it."""
    import pyarrow.parquet as pq

    assert run("load", "--corpus", lee, "--method", "tfidf", "--name", model_name, "--k", 5, "-q").exit_code == 0
    table = load_corpus_table(lee, CorpusOptions(method="tfidf"))
    expected, shares = principal_plane(table.matrix)
    maps = {}
    for layout in ("pca", "umap"):
        path = tmp_path / f"{layout}.parquet"
        result = run("map", "--model", model_name, "--layout", layout, "--format", "parquet", "-o", path, "-q")
        assert result.exit_code == 0, result.stderr
        maps[layout] = pq.read_table(path).to_pydict()
    row = {int(i): r for r, i in enumerate(table.ids.tolist())}
    got = np.array([[x, y] for x, y in zip(maps["pca"]["x"], maps["pca"]["y"])], np.float32)
    np.testing.assert_allclose(got, expected[[row[i] for i in maps["pca"]["id"]]], atol=1e-4)
    assert not np.allclose(got, np.array([maps["umap"]["x"], maps["umap"]["y"]], np.float32).T, atol=1)
    with Store(neo4j_settings) as store:
        assert np.allclose(store.model(model_name)["pca_variance"], shares, atol=1e-6)
    page = run("map", "--model", model_name, "--layout", "pca", "-o", tmp_path / "pca.html", "-q")
    assert page.exit_code == 0 and "PCA map of" in (tmp_path / "pca.html").read_text()
    with neo4j_driver.session() as session:  # a model stored before the plane existed
        session.run("MATCH (m:Model {name: $name}) REMOVE m.pca_variance", name=model_name).consume()
    line = error_line(run("map", "--model", model_name, "--layout", "pca", "-o", tmp_path / "old.html"))
    assert "without its principal plane" in line and "--replace" in line and not (tmp_path / "old.html").exists()
    unknown = run("map", "--model", model_name, "--layout", "tsne", "-o", tmp_path / "t.html")
    assert unknown.exit_code != 0 and "'tsne' is not one of 'umap', 'pca'" in unknown.output


# --- bad input: one line, exit 1, nothing stored --------------------------------------------------


def _binary(tmp_path):
    (tmp_path / "b.txt").write_bytes(b"\x00\x01\x02 words" * 100)
    return [tmp_path / "b.txt"]


BAD = {
    "missing": (lambda p: [p / "nowhere.txt"], r"corpus '.*nowhere.txt' does not exist: give a .txt file or a folder"),
    "empty": (lambda p: [_write(p / "e.txt", "")], r"corpus '.*' has no words \(runs of letters or digits\)"),
    "no txt": (lambda p: [_write(p / "x.md", "words") and p], r"folder '.*' holds no .txt files"),
    "binary": (_binary, r"corpus file 'b.txt' is binary \(it has NUL bytes\), not text"),
    "few words": (
        lambda p: [_write(p / "f.txt", "one two three " * 10)],
        r"has 3 words counted at least 5 times; k=5 neighbours need at least 6: give more text",
    ),
    "no newline": (
        lambda p: [_write(p / "n.txt", "word " * 10_000_000)],
        r"corpus file 'n.txt' has a line of 50,000,000 characters \(at most 1,000,000\): it is not prose",
    ),
    "long word": (
        lambda p: [_write(p / "l.txt", "a b c d e f g " * 100 + "x" * 10_000)],
        r"has a word of 10,000 characters \(xxxxxxxxxxxxxxxxxxxx...\); words of a text corpus are at most 100",
    ),
    "method": (lambda p: [_write(p / "m.txt", "a"), "--method", "glove"], r"unknown corpus method 'glove': use one of"),
    "one chunk": (
        lambda p: [_write(p / "c.txt", "a b c d e f g " * 100), "--method", "tfidf", "--chunks", 1],
        r"chunks must be at least 2 \(documents to compare a word across\), got 1",
    ),
    "many chunks": (
        lambda p: [_write(p / "c.txt", "a b c d e f g " * 100), "--method", "tfidf", "--chunks", 701],
        r"chunks=701 is more than the corpus's 700 words: ask for fewer chunks",
    ),
}


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", BAD)
def test_bad_corpus_input_gets_one_line_and_stores_nothing(case, run, tmp_path, model_name, neo4j_settings):
    make, message = BAD[case]
    path, *more = make(tmp_path)
    result = run("load", "--corpus", path, *more, "--name", model_name, "--k", 5, "--min-count", 5)
    assert re.search(message, error_line(result)), error_line(result)
    with Store(neo4j_settings) as store:
        assert store.model(model_name) is None


def test_a_corpus_and_a_model_source_are_not_loaded_together(run, lee, model_name):
    assert "give either SOURCE (a model) or --corpus" in error_line(run("load", "somemodel", "--corpus", lee))


def test_a_corpus_load_killed_with_sigkill_is_finished_exactly_by_the_same_command(
    run, lee, model_name, neo4j_settings
):
    """kill -9 while the load writes its graph: the model stays 'loading'; the same command again gives the exact graph."""
    import os
    import signal
    import time

    args = ["load", "--corpus", lee, "--name", model_name, "--k", "5", "--train-epochs", "2", "--no-analysis"]
    env = {
        **os.environ,
        "NEO4J_URI": neo4j_settings.uri,
        "NEO4J_USER": neo4j_settings.user,
        "NEO4J_PASSWORD": neo4j_settings.password,
        "NEO4J_DATABASE": neo4j_settings.database,
    }
    cli = [sys.executable, "-c", "from atlas.cli import main; main()"]
    victim = subprocess.Popen(  # small write batches: the load spends a while writing
        [*cli, *args, "--batch-size", "25", "--quiet"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    with Store(neo4j_settings) as store:
        deadline = time.monotonic() + 120
        while (store.model(model_name) or {}).get("status") != "loading" and time.monotonic() < deadline:
            time.sleep(0.05)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        assert store.model(model_name)["status"] == "loading"

    result = run(*args, "--quiet")
    assert result.exit_code == 0, result.stderr
    verified = json.loads(run("models", "--json", "--verify").stdout)
    model = next(m for m in verified if m["name"] == model_name)
    assert model["status"] == "complete" and model["problems"] == [] and model["edges"] == 1906 * 5
    table = load_corpus_table(lee, CorpusOptions(train_epochs=2))
    ids, _ = all_neighbours(table.matrix, 5)
    for word in ("government", "fire", "Australia"):
        row = table.text.index(word)
        assert [t for t, _ in stored_neighbours(neo4j_settings, model_name, word)] == [table.text[i] for i in ids[row]]


def test_tokens_of_a_corpus_atlas_show_its_stored_unit_vectors(run, lee, model_name):
    result = run(
        "load", "--corpus", lee, "--method", "tfidf", "--name", model_name, "--k", 5, "--no-analysis", "--vectors"
    )
    assert result.exit_code == 0, result.stderr
    table = load_corpus_table(lee, CorpusOptions(method="tfidf"))
    shown = run("tokens", "the president", "--model", model_name)
    assert shown.exit_code == 0, shown.stderr
    rows = [line for line in shown.stdout.splitlines() if '"the"' in line or '"president"' in line]
    assert "0.000000, 0.000000, 0.000000 ... 0.000000, 0.000000, 0.000000" in rows[0]  # in every chunk: zero
    row = table.matrix[table.text.index("president")]
    unit = row / np.linalg.norm(row)
    assert ", ".join(f"{x:.6f}" for x in unit[:3]) in rows[1]
