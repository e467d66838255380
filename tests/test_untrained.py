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


# --- the repeat check: the model asked to repeat each candidate ---------------------------------


def spliced_ids(tokenizer, text: str, token: int) -> list[int]:
    """The repeat prompt's ids built apart from the library: each piece of ``text`` between the places for the token
    encoded alone, ``token`` put between them."""
    pieces = text.split("{token}")
    ids: list[int] = []
    for at, piece in enumerate(pieces):
        ids += tokenizer(piece, add_special_tokens=False)["input_ids"]
        if at < len(pieces) - 1:
            ids.append(token)
    return ids


def softmax_at_the_end(model, ids: list[int], token: int) -> float:
    """The probability ``model`` gives ``token`` after ``ids``: one unbatched forward pass, softmax in float64."""
    import torch

    with torch.no_grad():
        logits = model.eval()(input_ids=torch.tensor([ids])).logits[0, -1].double()
    return float(torch.softmax(logits, dim=-1)[token])


@pytest.fixture(scope="module")
def chat_qwen(qwen_folder, tmp_path_factory):
    """The tiny Qwen2 with a ChatML chat template in its tokenizer: (folder, model)."""
    import shutil

    from transformers import AutoTokenizer

    folder = tmp_path_factory.mktemp("chat-qwen") / "model"
    shutil.copytree(qwen_folder[0], folder)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    tokenizer.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
        "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    )
    tokenizer.save_pretrained(folder)
    return folder, qwen_folder[1]


@pytest.mark.parametrize("chat", [False, True], ids=["plain", "chat-template"])
def test_the_repeat_probability_is_the_softmax_at_the_prompts_end(qwen_folder, chat_qwen, chat):
    from transformers import AutoTokenizer

    from atlas.files import repeat_check

    folder, model = chat_qwen if chat else qwen_folder[:2]
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    prompt = repeat_check.build_prompt(tokenizer)
    assert prompt.style == ("chat template" if chat else "plain")
    assert len(prompt.slots) == prompt.text.count("{token}") == (7 if chat else 41)
    if chat:
        assert prompt.text.startswith("<|im_start|>user\nRepeat this text exactly") and prompt.text.endswith(
            "<|im_start|>assistant\n«"
        )
        assert prompt.ids[0] == tokenizer.convert_tokens_to_ids("<|im_start|>")
    else:
        assert prompt.text.startswith("This device repeats its input exactly") and prompt.text.endswith("Output: «")
    lm = repeat_check.load_causal_lm(folder, "tiny")
    tokens = [17, 140, 268, 294, 300]  # a digit, a lone byte, a merged piece, a special token, a padding row
    found = repeat_check.repeat_probabilities(lm, prompt, tokens, batch_size=2)
    for token, probability in zip(tokens, found.tolist()):
        ids = spliced_ids(tokenizer, prompt.text, token)
        assert prompt.ids_with(token) == ids
        assert probability == pytest.approx(softmax_at_the_end(model, ids, token), rel=1e-4)
        assert 0.0 <= probability <= 1.0
    assert not np.allclose(found, found[0])  # each candidate's own probability, not one row's


def test_a_chat_template_that_drops_the_text_is_refused(chat_qwen):
    from transformers import AutoTokenizer

    from atlas.errors import PromptUnavailable
    from atlas.files import repeat_check

    tokenizer = AutoTokenizer.from_pretrained(str(chat_qwen[0]))
    tokenizer.chat_template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{% endfor %}"
    with pytest.raises(PromptUnavailable, match=r"does not keep the repeat prompt's text as given \(0 of 7 places"):
        repeat_check.build_prompt(tokenizer)


def test_a_model_that_predicts_the_token_gets_a_high_probability(qwen_folder):
    """The tiny Qwen2 with a head that always predicts token 268: 268 is 'repeated', another token is not."""
    import torch
    from transformers import AutoTokenizer

    from atlas.files import repeat_check

    folder, _, _ = qwen_folder
    lm = repeat_check.load_causal_lm(folder, "tiny")
    rows, width = lm.lm_head.weight.shape
    head = torch.nn.Linear(width, rows, bias=True)
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()
        head.bias[268] = 30.0
    lm.lm_head = head
    prompt = repeat_check.build_prompt(AutoTokenizer.from_pretrained(str(folder)))
    high, low = repeat_check.repeat_probabilities(lm, prompt, [268, 17]).tolist()
    assert high == pytest.approx(np.exp(30) / (np.exp(30) + rows - 1)) and high > 0.99
    assert low == pytest.approx(1 / (np.exp(30) + rows - 1))


def test_an_encoder_checkpoint_under_a_causal_head_is_refused(tmp_path):
    """MiniLM's config names BertModel; with that name gone, transformers would put a random head on it: refused too."""
    import json

    from atlas.errors import NoTokenHead
    from atlas.files import repeat_check
    from atlas.files.model_files import resolve

    source = resolve(default_source(), weights=True)
    config = json.loads((source / "config.json").read_text())
    with pytest.raises(NoTokenHead, match=r"^model 'minilm' \(BertModel\) has no head that predicts tokens"):
        repeat_check.require_token_head(source, "minilm")
    del config["architectures"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "model.safetensors").symlink_to(source / "model.safetensors")
    with pytest.raises(NoTokenHead, match=r"lack \d+ tensors of a language model \(cls\.predictions\."):
        repeat_check.load_causal_lm(tmp_path, "minilm")


@pytest.fixture
def loaded_qwen(run, qwen_folder, model_name):
    loaded = run("load", qwen_folder[0], "--name", model_name, "--k", "3", "--no-analysis", "--quiet")
    assert loaded.exit_code == 0, loaded.output
    return model_name


def stored_repeats(neo4j_driver, model: str) -> tuple[dict[int, float], dict]:
    with neo4j_driver.session() as session:
        rows = session.run(
            "MATCH (t:Token {model: $m}) WHERE t.repeat_probability IS NOT NULL "
            "RETURN t.id AS id, t.repeat_probability AS p",
            m=model,
        ).data()
        props = session.run("MATCH (m:Model {name: $m}) RETURN m {.*} AS m", m=model).single()["m"]
    return {r["id"]: r["p"] for r in rows}, props


def test_verify_top_stores_the_repeat_probabilities(run, loaded_qwen, qwen_folder, neo4j_driver):
    from transformers import AutoTokenizer

    model = loaded_qwen
    result = run("untrained", "--model", model, "--reference-ids", "260,261", "--verify-top", "3", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    repeat = found["repeat"]
    assert repeat["style"] == "plain" and repeat["prompt"].startswith("This device repeats its input exactly")
    checked = {t["id"]: t["repeat_probability"] for t in repeat["tokens"]}
    assert list(checked) == [t["id"] for t in found["tokens"][:3]]  # the three highest-scoring candidates
    assert all(0.0 <= p <= 1.0 for p in checked.values())
    assert [t["repeat_probability"] for t in found["tokens"][3:]] == [None] * (len(found["tokens"]) - 3)
    stored, props = stored_repeats(neo4j_driver, model)
    assert stored == checked
    assert props["repeat_checked"] == 3 and props["repeat_prompt"] == repeat["prompt"]
    assert props["repeat_prompt_style"] == "plain"
    tokenizer = AutoTokenizer.from_pretrained(str(qwen_folder[0]))
    for token in list(checked)[:2]:
        expected = softmax_at_the_end(qwen_folder[1], spliced_ids(tokenizer, repeat["prompt"], token), token)
        assert checked[token] == pytest.approx(expected, rel=1e-4)

    again = run("untrained", "--model", model, "--reference-ids", "260,261", "--verify-top", "3", "--json")
    assert again.exit_code == 0, again.output
    assert stored_repeats(neo4j_driver, model)[0] == pytest.approx(stored, rel=1e-6)

    fewer = run("untrained", "--model", model, "--reference-ids", "260,261", "--verify-top", "1")
    assert fewer.exit_code == 0, fewer.output
    assert "asked the model to repeat the 1 highest (plain prompt)" in fewer.stderr
    assert fewer.stdout.splitlines()[0].split()[-1] == "repeat"
    first = next(iter(checked))
    after, props = stored_repeats(neo4j_driver, model)
    assert after == pytest.approx({first: stored[first]}, rel=1e-6) and props["repeat_checked"] == 1  # no stale ones

    plain = run("untrained", "--model", model, "--reference-ids", "260,261", "--json")
    assert plain.exit_code == 0 and json.loads(plain.stdout)["repeat"] is None
    assert stored_repeats(neo4j_driver, model)[0] == after  # a run without the check keeps the last check


def test_verify_top_with_a_chat_template(run, chat_qwen, model_name, neo4j_driver):
    loaded = run("load", chat_qwen[0], "--name", model_name, "--k", "3", "--no-analysis", "--quiet")
    assert loaded.exit_code == 0, loaded.output
    result = run("untrained", "--model", model_name, "--reference-ids", "260", "--verify-top", "2", "--json")
    assert result.exit_code == 0, result.output
    repeat = json.loads(result.stdout)["repeat"]
    assert repeat["style"] == "chat template" and repeat["prompt"].startswith("<|im_start|>user\n")
    assert stored_repeats(neo4j_driver, model_name)[1]["repeat_prompt_style"] == "chat template"


def test_verify_top_on_an_encoder_is_one_line_and_writes_nothing(run, slice_name, neo4j_driver, neo4j_settings):
    from atlas import Atlas
    from atlas.errors import NoTokenHead

    before = stored_repeats(neo4j_driver, slice_name)[1].get("untrained_at")
    line = error_line(run("untrained", "--model", slice_name, "--verify-top", "5"))
    assert line == (
        f"Error: model {slice_name!r} (BertModel) has no head that predicts tokens: it is an encoder that outputs "
        "vectors, so it cannot be asked to repeat a token; run `atlas untrained` without --verify-top (the scores "
        "stand without the check), or check the candidates of a causal language model"
    )
    with Atlas(settings=neo4j_settings, model=slice_name) as face, pytest.raises(NoTokenHead, match="BertModel"):
        face.untrained(verify_top=5)
    stored, props = stored_repeats(neo4j_driver, slice_name)
    assert stored == {} and props.get("untrained_at") == before and "repeat_checked" not in props


@pytest.mark.parametrize("value", ["0", "-2", "x", "1.5", ""])
def test_verify_top_must_be_a_count(run, loaded_qwen, value):
    line = error_line(run("untrained", "--model", loaded_qwen, "--reference-ids", "260", "--verify-top", value))
    assert line == (
        f"Error: --verify-top expects how many candidates to check, a whole number of at least 1; got {value!r}"
    )


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "3"])
def test_verify_top_is_checked_by_the_library(neo4j_settings, loaded_qwen, value):
    from atlas import Atlas

    with Atlas(settings=neo4j_settings, model=loaded_qwen) as face, pytest.raises(InvalidArgument, match="verify_top"):
        face.untrained(reference_ids=[260], verify_top=value)


def test_verify_top_with_the_source_gone_is_one_line(run, qwen_folder, model_name, tmp_path, neo4j_driver):
    import shutil

    folder = shutil.copytree(qwen_folder[0], tmp_path / "moved-away")
    assert run("load", folder, "--name", model_name, "--k", "3", "--no-analysis", "--quiet").exit_code == 0
    shutil.rmtree(folder)
    line = error_line(run("untrained", "--model", model_name, "--reference-ids", "260", "--verify-top", "2"))
    assert line.startswith(f"Error: model {model_name!r} was loaded from {str(folder)!r}, which cannot be read now")
    assert stored_repeats(neo4j_driver, model_name)[0] == {}


@pytest.mark.parametrize(
    ("props", "expected"),
    [
        ({"word_rule": "letters-v1", "source": "corpus.txt"}, "is a corpus atlas of 'corpus.txt': it has no tokenizer"),
        (
            {"layer": 4, "source": "nowhere"},
            "is a layer atlas (hidden states at layer 4): it cannot be asked to repeat",
        ),
    ],
    ids=["corpus", "layer"],
)
def test_verify_top_on_a_corpus_or_layer_atlas_is_one_line(
    run, model_name, neo4j_driver, neo4j_settings, props, expected
):
    neo4j_driver.execute_query(
        "CREATE (m:Model {name: $name, status: 'complete', k: 3, dim: 8}) SET m += $props",
        name=model_name,
        props=props,
        database_=neo4j_settings.database,
    )
    line = error_line(run("untrained", "--model", model_name, "--verify-top", "3"))
    assert line.startswith(f"Error: model {model_name!r} {expected}")


def test_verify_top_on_cuda_without_a_gpu_is_one_line(run, loaded_qwen, neo4j_driver):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    args = ("untrained", "--model", loaded_qwen, "--reference-ids", "260", "--verify-top", "2", "--device", "cuda")
    assert (
        error_line(run(*args))
        == "Error: device 'cuda' was asked for but torch sees no CUDA GPU; use device cpu or auto"
    )
    assert stored_repeats(neo4j_driver, loaded_qwen)[0] == {}
