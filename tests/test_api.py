"""atlas.Atlas, the library's face, against a real Neo4j.

The examples in the docstrings of atlas.api and atlas.results run here, in order, on the
whole bundled MiniLM loaded through the API under a fresh name (the examples say ``atlas``
and ``model``; ``folder`` is a temporary folder). The rest checks what the API promises
beyond them: every capability of the CLI is a method, and everything public is documented.
"""

from __future__ import annotations

import doctest
import inspect
import io
import json
import re
import uuid
from pathlib import Path

import pytest

import atlas
import atlas.db
from atlas import Atlas, api, results
from atlas.cli import main

# The order the examples run in: the load first (it stores the model without its analysis),
# then the analysis, the reads, the map, the vectors, and the delete last.
ORDER = [
    "load",
    "analyse",
    "model",
    "models",
    "neighbours",
    "variants",
    "rebuild_variants",
    "tokens",
    "prompt",
    "sample",
    "export",
    "views",
    "near",
    "context",
    "hubs",
    "query",
    "untrained",
    "map",
    "browser_url",
    "vectors",
    "vectors_query",
    "delete",
]


@pytest.fixture(scope="module")
def api_minilm(neo4j_settings, tmp_path_factory):
    """The bundled MiniLM loaded through the API (k=20, no analysis yet) under a fresh name: (Atlas, name)."""
    name = f"test-api-minilm-{uuid.uuid4().hex[:8]}"
    with Atlas(settings=neo4j_settings, model=name) as face:
        stages = []
        loaded = face.load(name=name, analyse=False, on_progress=lambda stage, n, total: stages.append(stage))
        assert loaded.report.tokens == 30522 and loaded.report.edges == 30522 * 20
        assert {"neighbours", "tokens", "edges", "verify"} <= set(stages)
        try:
            yield face, name, tmp_path_factory.mktemp("api")
        finally:
            face.store.delete_model(name)


def _examples(module) -> list[doctest.DocTest]:
    return [t for t in doctest.DocTestFinder().find(module) if t.examples]


def _position(test: doctest.DocTest) -> tuple[int, str]:
    method = test.name.rsplit(".", 1)[-1]
    return (
        ORDER.index(method) if test.name.startswith("atlas.api.Atlas.") and method in ORDER else len(ORDER) - 1,
        test.name,
    )


def test_the_docstring_examples_run_on_minilm(api_minilm):
    face, name, folder = api_minilm
    tests = sorted(_examples(api) + _examples(results), key=_position)
    documented = {t.name.rsplit(".", 1)[-1] for t in tests if t.name.startswith("atlas.api.Atlas.")}
    assert set(ORDER) <= documented, f"methods without a run example: {sorted(set(ORDER) - documented)}"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = io.StringIO()
    for test in tests:
        test.globs.update(atlas=face, model=name, folder=folder)
        runner.run(test, out=report.write)
    assert runner.failures == 0, report.getvalue()
    assert runner.tries == sum(len(t.examples) for t in tests) >= 40  # every example ran
    assert face.store.model(name) is not None  # the delete example deletes nothing of the model's


def test_every_command_is_a_method():
    """Each command of the CLI has a method of Atlas (or a function of atlas.db) that does its work."""
    methods = {
        "load": Atlas.load,
        "neighbours": Atlas.neighbours,
        "models": Atlas.models,
        "delete": Atlas.delete,
        "vectors": Atlas.vectors,
        "analyse": Atlas.analyse,
        "hubs": Atlas.hubs,
        "untrained": Atlas.untrained,
        "map": Atlas.map,
        "variants": Atlas.variants,
        "tokens": Atlas.tokens,
        "prompt": Atlas.prompt,
        "atlas": Atlas.sample,
        "near": Atlas.near,
        "context": Atlas.context,
        "export": Atlas.export,
        "compare": Atlas.compare,
        "db": atlas.db.start,
        "browser": atlas.db.serve_guide,
    }
    assert set(methods) == set(main.commands)
    for command, method in methods.items():
        assert method.__doc__ and len(inspect.getdoc(method)) > 40, command


def test_everything_public_is_exported_and_documented():
    for module in (atlas, atlas.db):
        for name in module.__all__:
            assert hasattr(module, name), name
            if name != "__version__":
                assert inspect.getdoc(getattr(module, name)), f"{module.__name__}.{name} has no docstring"
    for name, member in inspect.getmembers(Atlas):
        if not name.startswith("_") and callable(member):
            assert inspect.getdoc(member), f"Atlas.{name} has no docstring"
    assert "Atlas" in atlas.__all__ and "AtlasError" in atlas.__all__


def test_help_of_atlas_documents_every_capability():
    """``help(atlas.Atlas)`` lists every method with the first line of its docstring."""
    import pydoc

    text = pydoc.render_doc(Atlas, renderer=pydoc.plaintext)
    for method in ORDER:
        first = inspect.getdoc(getattr(Atlas, method)).splitlines()[0]
        assert f"{method}(" in text and first in text, method


def test_a_method_raises_the_error_the_cli_prints(api_minilm, run):
    face, name, _ = api_minilm
    with pytest.raises(atlas.TokenNotFound, match="is not in the vocabulary of") as raised:
        face.neighbours("qqqzzzx")
    result = run("neighbours", "qqqzzzx", "--model", name)
    assert result.exit_code == 1 and result.stderr.strip() == f"Error: {raised.value}"


def test_the_default_model_is_the_instances(neo4j_settings):
    with (
        Atlas(settings=neo4j_settings, model="no-such-model") as face,
        pytest.raises(atlas.ModelNotLoaded, match=r"^model 'no-such-model' is not loaded"),
    ):
        face.neighbours("cat")


# -- the model handle -------------------------------------------------------------------------


def test_a_model_handle_is_the_atlas_with_the_model_filled_in(api_minilm):
    face, name, _ = api_minilm
    minilm = face[name]
    assert repr(minilm) == f"Model({name!r})" and minilm.name == name and minilm.atlas is face
    assert minilm.neighbours("cat", k=5).to_dict() == face.neighbours("cat", name, k=5).to_dict()
    assert minilm.neighbours(4937, k=2, by_id=True).texts() == face.neighbours("cat", name, k=2).texts()
    assert minilm.variants("list").to_dict() == face.variants("list", name).to_dict()
    assert minilm.tokens("the cat sat").ids() == face.tokens("the cat sat", name).ids()
    assert minilm.properties() == face.model(name)
    other = Atlas(settings=face.settings)  # its default model is the bundled one, not this
    try:
        assert other[name].neighbours("cat", k=3).texts() == face.neighbours("cat", name, k=3).texts()
    finally:
        other.close()


def test_the_handle_offers_every_method_that_takes_a_model():
    on_a_model = {
        name
        for name, member in inspect.getmembers(Atlas, inspect.isfunction)
        if not name.startswith("_") and "model" in inspect.signature(member).parameters
    }
    assert {"neighbours", "hubs", "near", "prompt", "map", "analyse", "vectors", "context"} <= on_a_model
    for name in on_a_model:
        method = getattr(atlas.Model, name)
        assert "model" not in inspect.signature(method).parameters, name
        assert inspect.getdoc(method).startswith(inspect.getdoc(getattr(Atlas, name)).splitlines()[0]), name
        assert ">>>" not in inspect.getdoc(method), name  # the examples run once, on Atlas
    assert inspect.signature(atlas.Model.neighbours).parameters["k"].default is None


def test_a_handle_is_checked_as_its_methods_are(neo4j_settings):
    with Atlas(settings=neo4j_settings) as face:
        missing = face["no-such-model"]  # making the handle reads nothing
        with pytest.raises(atlas.ModelNotLoaded, match=r"^model 'no-such-model' is not loaded"):
            missing.hubs()
        with pytest.raises(atlas.InvalidArgument, match=r"^model must be a text \(str\), got 7 \(int\)$"):
            face[7]
        with pytest.raises(TypeError, match="too many positional arguments"):
            missing.neighbours("cat", "another model")
        with pytest.raises(AttributeError, match=r"^a model handle has no attribute 'neighbors'; its methods are "):
            missing.neighbors  # noqa: B018
        with pytest.raises(atlas.InvalidArgument, match=r"^model must be a text \(str\), got 3 \(int\)$"):
            face.hubs(3)


# -- Cypher of one's own ----------------------------------------------------------------------


def test_query_returns_a_table_of_the_statements_rows(api_minilm):
    face, name, _ = api_minilm
    found = face.query(
        "MATCH (t:Token {model: $model}) WHERE t.id IN $ids RETURN t.id AS id, t.text AS text ORDER BY id",
        model=name,
        ids=[4937, 2862],
    )
    assert isinstance(found, results.Table) and found.keys == ["id", "text"]
    assert found.to_dict() == [{"id": 2862, "text": "list"}, {"id": 4937, "text": "cat"}]
    assert found.to_pandas().to_dict("records") == found.to_dict()
    assert str(found).splitlines() == ["2 rows:", "id    text", '2862  "list"', '4937  "cat"']
    assert "<td>cat</td>" in found._repr_html_()
    assert json.loads(found.to_json()) == found.to_dict()


def test_query_takes_parameters_as_a_dict_too(neo4j_settings):
    with Atlas(settings=neo4j_settings) as face:
        found = face.query("RETURN $write AS write, $n + 1 AS next", {"write": "a value"}, n=1)
        assert found.to_dict() == [{"write": "a value", "next": 2}]
        empty = face.query("MATCH (m:Model {name: $name}) RETURN m.name AS name", name="no such model")
        assert len(empty) == 0 and list(empty.to_pandas().columns) == ["name"] and str(empty) == "0 rows:\nname"


def test_query_values_that_json_lacks_are_written_as_text(neo4j_settings):
    with Atlas(settings=neo4j_settings) as face:
        found = face.query("RETURN date('2025-01-02') AS day, [point({x: 1, y: 2})] AS points, null AS nothing")
    # a date as text, a point as its coordinates
    assert found.to_dict() == [{"day": "2025-01-02", "points": [[1.0, 2.0]], "nothing": None}]
    assert found.to_pandas()["day"][0].year == 2025  # the DataFrame keeps the driver's value
    assert str(found).splitlines()[-1].endswith("-")  # null shows as "-"


def test_a_bad_statement_is_one_line_that_says_so(neo4j_settings):
    with Atlas(settings=neo4j_settings) as face:
        with pytest.raises(atlas.InvalidArgument) as raised:
            face.query("MATC (n) RETURN n")
        assert re.fullmatch(
            r"the Cypher statement does not parse: Invalid input 'MATC': .* \(line 1, column 1 \(offset: 0\)\)",
            str(raised.value),
        )
        with pytest.raises(
            atlas.InvalidArgument,
            match=r"^the Cypher statement takes a parameter it was not given \(Expected parameter\(s\): model\); ",
        ):
            face.query("MATCH (m:Model {name: $model}) RETURN m")
        with pytest.raises(atlas.InvalidArgument, match=r"^Neo4j refused the Cypher statement: / by zero$"):
            face.query("RETURN 1 / $zero AS x", zero=0)
        with pytest.raises(atlas.InvalidArgument, match=r"^cypher must be a text \(str\)"):
            face.query(None)


def test_a_write_is_refused_in_read_mode_and_nothing_is_written(neo4j_settings):
    label = f"QueryProbe{uuid.uuid4().hex[:8]}"
    count = f"MATCH (n:{label}) RETURN count(n) AS n"
    with Atlas(settings=neo4j_settings) as face:
        with pytest.raises(
            atlas.InvalidArgument,
            match=r"^the Cypher statement writes to the graph, and it ran in a read transaction, which may not; "
            r"give write=True to run it in a write transaction$",
        ):
            face.query(f"CREATE (n:{label} {{text: $text}}) RETURN n", text="refused")
        assert face.query(count)[0]["n"] == 0
        try:
            written = face.query(f"CREATE (n:{label} {{text: $text}}) RETURN n.text AS text", text="kept", write=True)
            assert written.to_dict() == [{"text": "kept"}] and face.query(count)[0]["n"] == 1
        finally:
            face.query(f"MATCH (n:{label}) DETACH DELETE n", write=True)
        assert face.query(count)[0]["n"] == 0


# -- results ----------------------------------------------------------------------------------


def test_the_reports_convert_and_print():
    vectors = results.VectorsReport("m", 30_000, 2, "vectors_m", 1.25, False, ("not checked",))
    assert vectors.to_dict() == {
        "name": "m",
        "stored": 30_000,
        "zero": 2,
        "index": "vectors_m",
        "seconds": 1.25,
        "skipped": False,
        "notes": ("not checked",),
    }
    assert json.loads(vectors.to_json())["notes"] == ["not checked"]
    assert (
        repr(vectors) == "stored 30,000 vectors of 'm' (2 zero rows have none) and the vector index vectors_m in 1.2 s"
    )
    analysed = results.AnalysisReport("m", 30_522, 412, 0.71234, 3.456, 12.0)
    assert analysed.to_dict() == {
        "name": "m",
        "tokens": 30_522,
        "communities": 412,
        "modularity": 0.71234,
        "cited_skewness": 3.456,
        "seconds": 12.0,
    }
    assert repr(analysed) == (
        "analysed 'm': 30,522 tokens in 412 communities (modularity 0.712), in-degree skewness 3.46, in 12.0 s"
    )
    loaded = results.LoadReport("m", 10, 200, 8, False, 1.0, "cpu", 3, vectors)
    assert json.loads(loaded.to_json())["vectors"]["stored"] == 30_000


def test_a_load_reports_a_typed_result(api_minilm):
    face, name, _ = api_minilm
    again = face.load(name=name, analyse=False)  # stored already: nothing to do
    assert isinstance(again.report, results.LoadReport) and again.report.skipped
    data = again.to_dict()
    assert data["report"]["name"] == name and data["report"]["tokens"] == 30522 and data["browser_query"]
    assert repr(again) == f"model {name!r} is already loaded with these settings; nothing to do"


def test_every_result_is_exported_and_documented():
    page = (Path(__file__).resolve().parents[1] / "docs" / "api.md").read_text(encoding="utf-8")
    made_here = [
        name
        for name, member in inspect.getmembers(results, inspect.isclass)
        if member.__module__ == "atlas.results" and not name.startswith("_")
    ]
    assert {"AnalysisReport", "VectorsReport", "LoadReport", "Comparison", "Context", "Rows"} <= set(made_here)
    for name in made_here:
        assert name in atlas.__all__, name
        assert f"- {name}\n" in page, f"{name} is not in docs/api.md"
        member = getattr(results, name)
        if issubclass(member, results.Record):
            assert callable(member.to_dict) and callable(member.to_json), name
    assert {"Model", "Comparison", "Context"} <= set(atlas.__all__)
