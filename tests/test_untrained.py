"""Under-trained tokens: the round-trip categories and the score against references, and `atlas untrained` on a real Neo4j."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import error_line
from sample_models import prompt_token_ids, saved_minilm_slice

from atlas.core import untrained
from atlas.errors import InvalidArgument
from atlas.files.model_files import default_source, read_tokenizer
from atlas.files.token_categories import categories, round_trip

# --- the score, against a brute-force reference ---------------------------------------------


def reference_scores(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The paper's indicator as scikit-learn and plain numpy compute it: PCA's first component removed, cosine to the
    mean of the reference rows (as a similarity, 1 - the paper's distance)."""
    from sklearn.decomposition import PCA

    u = PCA(n_components=1).fit(x.astype(np.float64)).components_[0]
    without = x - np.outer(x @ u, u)
    r = without[reference].mean(axis=0)
    return np.array([row @ r / (np.linalg.norm(row) * np.linalg.norm(r)) for row in without])


def planted(n: int = 3000, d: int = 24, unused: int = 60, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Rows with a large shared direction and a few 'unused' rows that sit together, off the rest."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)) + 4 * rng.normal(size=d)
    x[:unused] = rng.normal(size=(unused, d)) * 0.1 + 3 * rng.normal(size=d)
    mask = np.zeros(n, dtype=bool)
    mask[:unused] = True
    return x.astype(np.float32), mask


def test_the_score_is_the_papers_indicator():
    x, mask = planted()
    expected = reference_scores(x, mask)
    assert np.allclose(untrained.scores(x, mask), expected, atol=1e-4)
    assert np.allclose(untrained.scores(x, np.flatnonzero(mask)), expected, atol=1e-4)


def test_the_first_component_is_pcas():
    from sklearn.decomposition import PCA

    x, _ = planted(seed=3)
    expected = PCA(n_components=1).fit(x.astype(np.float64)).components_[0]
    assert abs(float(untrained.first_component(x, block=700) @ expected)) > 1 - 1e-6


def test_candidates_are_the_top_two_percent_of_reachable_scores():
    x, mask = planted()
    kinds = ["reachable"] * len(x)
    kinds[5] = "special"
    found = untrained.indicator(x, mask, kinds)
    reachable = (np.array(kinds) == "reachable") & ~mask
    assert found.threshold == pytest.approx(np.quantile(found.score[reachable], 0.98))
    expected = (found.score >= found.threshold) & ~mask & (np.array(kinds) != "special")
    assert np.array_equal(found.candidate, expected)
    assert not found.candidate[mask].any() and not found.candidate[5]
    assert 0.015 * len(x) < found.candidate.sum() <= 0.02 * len(x) + 1


def test_held_out_unused_rows_rank_first_on_planted_rows():
    x, mask = planted(unused=100)
    out = untrained.held_out(x, mask, share=0.3, seed=1)
    assert len(out.held) == 30 and len(out.kept) == 70 and not set(out.held) & set(out.kept)
    assert out.recall(30) == 1.0 and out.precision(30) == 1.0
    assert out.ranks.tolist() == list(range(1, 31))
    again = untrained.held_out(x, mask, share=0.3, seed=1)
    assert np.array_equal(again.held, out.held)  # seeded
    assert not np.array_equal(untrained.held_out(x, mask, share=0.3, seed=2).held, out.held)


def test_an_empty_reference_is_refused():
    x, _ = planted()
    with pytest.raises(InvalidArgument, match="reference of the under-training score holds no rows"):
        untrained.scores(x, np.zeros(len(x), dtype=bool))


# --- the categories --------------------------------------------------------------------------


def test_minilm_categories():
    from atlas.loaders import load_embedding_table

    table = load_embedding_table(default_source())
    kinds = categories(read_tokenizer(default_source()), table.ids, table.special)
    counts = untrained.count_categories(kinds)
    assert counts == {
        "reachable": 29186,
        "unreachable_one": 0,
        "unreachable_several": 1331,
        "undecodable": 0,
        "special": 5,
    }
    of = dict(zip(table.raw, kinds))
    assert of["[unused0]"] == of["##!"] == of["..."] == "unreachable_several"  # BERT splits punctuation off
    assert of["cat"] == of["##ing"] == of["##s"] == "reachable"  # continuation pieces after an anchor
    assert of["[CLS]"] == "special"
    assert untrained.declared_unused(table.raw).sum() == 994


def test_qwen_categories_by_brute_force(tmp_path):
    """On the real Qwen2 vocabulary (its byte-level pieces and pre-tokenizer): each category checked one token at a
    time, on a sample of each category, against the tokenizer's own decode and encode."""
    from qwen_standin import write_tokenizer

    write_tokenizer(tmp_path)
    tokenizer = read_tokenizer(str(tmp_path))
    n = tokenizer.get_vocab_size()
    added = tokenizer.get_added_tokens_decoder()
    special = [bool(added[i].special) if i in added else False for i in range(n)]
    kinds = categories(tokenizer, list(range(n)), special)
    counts = untrained.count_categories(kinds)
    assert sum(counts.values()) == n == 151_665 and counts["special"] == 9
    assert min(counts.values()) > 0
    rng = np.random.default_rng(0)
    for name in untrained.CATEGORIES:
        rows = np.flatnonzero(np.array(kinds) == name)
        for i in rng.choice(rows, min(40, len(rows)), replace=False).tolist():
            text = tokenizer.decode([i], skip_special_tokens=False)
            again = tokenizer.encode(text, add_special_tokens=False).ids
            if name == "special":
                assert special[i]
            elif name == "reachable":
                assert again == [i]
            elif name == "undecodable":
                assert again != [i] and "\ufffd" in text
            elif name == "unreachable_one":
                assert len(again) == 1 and again != [i] and "\ufffd" not in text
            else:
                assert len(again) != 1 and "\ufffd" not in text
    assert kinds[94] == "undecodable"  # the lone byte 0xA1
    assert tokenizer.decode([132515]) == "\u00ea\u0301" and kinds[132515] == "unreachable_one"  # NFC makes it one ế


def test_round_trip_keeps_the_order():
    tokenizer = read_tokenizer(default_source())
    texts, encoded = round_trip(tokenizer, [2000, 1])
    assert texts == ["to", "[unused0]"] and encoded[0] == [2000] and len(encoded[1]) == 4


# --- stored, through the CLI -------------------------------------------------------------------


@pytest.fixture(scope="module")
def slice_name(neo4j_settings):
    with saved_minilm_slice(neo4j_settings, "test-untrained", k=5, analyse=True) as name:
        yield name


def test_untrained_stores_categories_scores_and_candidates(run, slice_name, neo4j_driver):
    result = run("untrained", "--model", slice_name, "--json", "--limit", "5")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    with neo4j_driver.session() as session:
        rows = session.run(
            "MATCH (t:Token {model: $m}) RETURN t.id AS id, t.raw AS raw, t.category AS category, "
            "t.untrained AS score, t.untrained_candidate AS candidate, t.untrained_reference AS reference",
            m=slice_name,
        ).data()
        model = session.run("MATCH (m:Model {name: $m}) RETURN m {.*} AS m", m=slice_name).single()["m"]
    unused = [r for r in rows if r["raw"].startswith("[unused")]
    assert unused and all(r["reference"] and r["category"] == "unreachable_several" for r in unused)
    assert found["reference"] == "declared" and found["reference_size"] == len(unused)
    assert found["candidates"] == sum(r["candidate"] for r in rows) == model["untrained_candidates"] > 0
    assert sum(found["categories"].values()) == len(rows) == 3000
    assert model["tokens_reachable"] == found["categories"]["reachable"]
    assert all(r["score"] is not None for r in rows)
    top = sorted((r for r in rows if r["candidate"]), key=lambda r: (-r["score"], r["id"]))[:5]
    assert [t["id"] for t in found["tokens"]] == [r["id"] for r in top]
    assert min(r["score"] for r in rows if r["candidate"]) >= found["threshold"]
    assert not any(r["candidate"] and r["reference"] for r in rows)
    assert all(t["cited"] is not None for t in found["tokens"])  # the analysis's in-degree beside the score
    # the scores match the pure function on the same rows
    from atlas.files.model_files import read_embedding_matrix

    ids = np.array(sorted(r["id"] for r in rows))
    by_id = {r["id"]: r for r in rows}
    matrix = read_embedding_matrix(__import__("pathlib").Path(default_source()))[ids]
    expected = untrained.scores(matrix, np.array([by_id[i]["reference"] for i in ids.tolist()]))
    assert np.allclose([by_id[i]["score"] for i in ids.tolist()], expected, atol=1e-5)


def test_untrained_prints_a_table_and_given_reference_ids(run, slice_name):
    cat, dog, kitten = prompt_token_ids("cat dog kitten")
    result = run(
        "untrained", "--model", slice_name, "--limit", "3", "--reference-ids", f"{cat},{dog}", "--reference-ids", kitten
    )
    assert result.exit_code == 0, result.output
    assert "reference: 3 given tokens" in result.stderr and "under-trained candidates" in result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 + 3  # header and three rows
    shown = run("models")
    header, *rows = shown.stdout.splitlines()
    assert "untrained" in header.split()
    line = next(r for r in rows if r.startswith(slice_name))
    stored = next(m for m in json.loads(run("models", "--json").stdout) if m["name"] == slice_name)
    assert stored["untrained_candidates"] > 0 and stored["untrained_reference"] == "given"
    assert line.split()[-2] == f"{stored['untrained_candidates']:,}"  # the column before the source


def test_a_reference_id_out_of_range_is_one_line(run, slice_name):
    line = error_line(run("untrained", "--model", slice_name, "--reference-ids", "99999999"))
    assert "reference id 99999999 is not a stored token of model" in line and "ids from 0 to" in line
    line = error_line(run("untrained", "--model", slice_name, "--reference-ids", "1,x"))
    assert line == "Error: --reference-ids expects token ids like 1,2,3; got 'x'"


def test_a_model_with_no_unused_and_no_unreachable_tokens_is_refused(run, model_name, qwen_folder, neo4j_driver):
    folder, _, _ = qwen_folder
    loaded = run("load", folder, "--name", model_name, "--k", "3", "--no-analysis")
    assert loaded.exit_code == 0, loaded.output
    line = error_line(run("untrained", "--model", model_name))
    assert line == (
        f"Error: the reference of model {model_name!r} is empty: its tokenizer declares no unused or reserved "
        "tokens and every token is reachable; give the ids of tokens known to be unused as reference_ids "
        "(`atlas untrained --reference-ids`)"
    )
    with neo4j_driver.session() as session:
        stored = session.run(
            "MATCH (t:Token {model: $m}) WHERE t.untrained IS NOT NULL RETURN count(t) AS n", m=model_name
        ).single()["n"]
    assert stored == 0  # nothing is stored as done
    given = run("untrained", "--model", model_name, "--reference-ids", "260,261", "--json")
    assert given.exit_code == 0, given.output
    assert json.loads(given.stdout)["reference"] == "given"


def test_a_layer_atlas_is_refused_in_one_line(run, model_name, neo4j_driver, neo4j_settings):
    neo4j_driver.execute_query(
        "CREATE (:Model {name: $name, status: 'complete', k: 3, dim: 8, source: 'nowhere', layer: 4})",
        name=model_name,
        database_=neo4j_settings.database,
    )
    line = error_line(run("untrained", "--model", model_name))
    assert line.startswith(f"Error: model {model_name!r} is a layer atlas (hidden states at layer 4)")


def test_the_map_carries_the_candidates(run, slice_name, neo4j_settings, neo4j_driver):
    from atlas import Atlas

    assert run("untrained", "--model", slice_name, "--json").exit_code == 0
    with neo4j_driver.session() as session:
        flagged = session.run(
            "MATCH (t:Token {model: $m}) WHERE t.untrained_candidate RETURN t.id AS id ORDER BY id", m=slice_name
        ).value("id")
    with Atlas(settings=neo4j_settings, model=slice_name) as face:
        vocabulary = face.map()
    assert vocabulary.map.untrained is not None
    assert vocabulary.map.ids[vocabulary.map.untrained].tolist() == flagged and flagged
