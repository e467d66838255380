"""``atlas load --layer`` end to end: the bundled MiniLM's layer 6 stored in a real Neo4j and analysed.

One layer load for the whole module (about 30 s with its analysis); the stored neighbours
are checked against a brute-force cosine top-k of states computed by transformers directly.
"""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from conftest import error_line

from atlas.cli import main
from atlas.files.model_files import BUNDLED, load_model, resolve
from atlas.graph.store import Store

CHECKED = [101, 1996, 4937, 7592, 2154]  # [CLS], the, cat, hello, day
K = 20


def invoke(settings, *args):
    env = {
        "NEO4J_URI": settings.uri,
        "NEO4J_USER": settings.user,
        "NEO4J_PASSWORD": settings.password,
        "NEO4J_DATABASE": settings.database,
    }
    return CliRunner().invoke(main, [str(a) for a in args], env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def layer_six(neo4j_settings):
    """``atlas load <bundled> --layer 6 --name t-layers-...`` run once: (the CLI's result, the stored model's name)."""
    name = f"t-layers-{uuid.uuid4().hex[:8]}"
    result = invoke(neo4j_settings, "load", BUNDLED, "--layer", "6", "--name", name)
    try:
        yield result, f"{name}@6"
    finally:
        with Store(neo4j_settings) as store:
            store.delete_model(f"{name}@6")


@pytest.fixture(scope="module")
def reference_states():
    """Every MiniLM token's state at layer 6, from transformers directly: (30522, 384) float32."""
    model = load_model(resolve(BUNDLED))
    out = []
    with torch.no_grad():
        for start in range(0, 30522, 2048):
            ids = torch.arange(start, min(start + 2048, 30522))[:, None]  # (B, 1)
            cls, sep = torch.full_like(ids, 101), torch.full_like(ids, 102)
            out.append(model(torch.cat([cls, ids, sep], 1), output_hidden_states=True).hidden_states[6][:, 1].numpy())
    return np.concatenate(out)


def test_the_layer_is_stored_as_its_own_model_with_layer_and_method(layer_six, neo4j_settings):
    result, name = layer_six
    assert result.exit_code == 0, result.output
    assert f"stored {name!r}: 30,522 tokens, 610,440 SIMILAR_TO edges" in result.stderr
    assert "layer states: 30,522 in" in result.stderr  # the progress display's stage
    with Store(neo4j_settings) as store:
        model = store.model(name)
        assert model["status"] == "complete" and model["analysis"] == "complete"
        assert model["communities"] > 10
        assert model["layer"] == 6 and model["source"] == BUNDLED and model["dim"] == 384
        assert model["method"].startswith("each token alone as [CLS] token [SEP], hidden state at layer 6, float32")
        assert "embedding_tensor" not in model
        communities = store.read("communities_read", model=name)
        assert len(communities) == model["communities"]


def test_the_stored_neighbours_are_the_exact_top_k_of_the_states(layer_six, reference_states, neo4j_settings):
    _, name = layer_six
    unit = reference_states / np.linalg.norm(reference_states, axis=1, keepdims=True)  # (V, d)
    with Store(neo4j_settings) as store:
        stored = {r["id"]: r["targets"] for r in store.read("neighbours_by_ids", model=name, ids=CHECKED)}
    for token in CHECKED:
        scores = unit @ unit[token]  # (V,)
        scores[token] = -np.inf
        expected = np.argsort(-scores, kind="stable")[:K].tolist()
        assert stored[token] == expected, token


def test_models_lists_the_layer(layer_six, neo4j_settings):
    _, name = layer_six
    listed = invoke(neo4j_settings, "models", "--json")
    assert listed.exit_code == 0, listed.output
    found = {m["name"]: m for m in json.loads(listed.stdout)}
    assert found[name]["layer"] == 6 and "layer 6" in found[name]["method"]
    assert all("layer" in m for m in found.values())  # null for the models of input embeddings
    table = invoke(neo4j_settings, "models")
    header = table.stdout.splitlines()[0].split()
    row = next(line for line in table.stdout.splitlines() if line.startswith(name)).split()
    assert row[header.index("layer")] == "6"


def test_commands_reading_input_embeddings_refuse_a_layer_atlas(layer_six, neo4j_settings):
    _, name = layer_six
    result = invoke(neo4j_settings, "near", "cat", "--model", name)
    assert error_line(result) == (
        f"Error: model {name!r} is a layer atlas (hidden states at layer 6): `atlas near` reads input embeddings "
        "from its source, not these states; use the model of its input embeddings instead"
    )


def test_a_layer_past_the_last_block_is_one_line_and_stores_nothing(neo4j_settings):
    name = f"t-layers-bad-{uuid.uuid4().hex[:8]}"
    result = invoke(neo4j_settings, "load", "--layer", "9", "--name", name)
    assert error_line(result) == (
        f"Error: layer 9 is out of range: {name!r} has layers 0..6 "
        "(0 is the embedding layer's output, L the output of block L)"
    )
    with Store(neo4j_settings) as store:
        assert [m for m in store.read("model_list") if m["model"]["name"].startswith(name)] == []


def test_a_layer_load_of_a_name_another_load_holds_is_refused_before_the_forward_passes(neo4j_settings):
    from atlas import Atlas
    from atlas.errors import ModelBusy
    from atlas.graph.lease import Lease

    name = f"t-layers-busy-{uuid.uuid4().hex[:8]}"
    stages: list[str] = []
    with (
        Store(neo4j_settings) as store,
        Lease(store, f"{name}@6"),
        Atlas(settings=neo4j_settings) as atlas,
        pytest.raises(ModelBusy, match=rf"model '{name}@6' is being loaded"),
    ):
        atlas.load_layers(6, name=name, k=5, analyse=False, on_progress=lambda stage, done, total: stages.append(stage))
    assert "layer states" not in stages  # refused before any token went through the model
    with Store(neo4j_settings) as store:
        assert store.model(f"{name}@6") is None
