"""The Browser guide and stylesheet: their content, the local server, and every guide example on a real Neo4j."""

from __future__ import annotations

import re
import socket
import struct
import threading
import time
import urllib.error
import urllib.request
from html.parser import HTMLParser

import pytest
from sample_models import ARITHMETIC, ARTICLE_PROMPT, WORDS, saved_minilm_slice

from atlas.errors import InvalidArgument
from atlas.server import guide as browser
from atlas.settings import DEFAULT_MODEL as DEFAULT_MODEL_NAME


class _Runnable(HTMLParser):
    """The text of every ``<pre class="runnable">`` block and the heading of every slide."""

    def __init__(self):
        super().__init__()
        self.blocks: list[str] = []
        self.slides: list[str] = []
        self._block: list[str] | None = None
        self._heading: list[str] | None = None
        self._in_slide = False

    def handle_starttag(self, tag, attrs):
        if tag == "slide":
            self._in_slide, self._heading = True, None
        elif tag == "h3" and self._in_slide:
            self._heading = []
        elif tag == "pre" and "runnable" in (dict(attrs).get("class") or "").split():
            self._block = []

    def handle_data(self, data):
        if self._block is not None:
            self._block.append(data)
        if self._heading is not None:
            self._heading.append(data)

    def handle_endtag(self, tag):
        if tag == "pre" and self._block is not None:
            self.blocks.append("".join(self._block).strip())
            self._block = None
        elif tag == "h3" and self._heading is not None:
            self.slides.append("".join(self._heading).strip())
            self._heading, self._in_slide = None, False


def runnable_blocks(html: str) -> list[str]:
    parser = _Runnable()
    parser.feed(html)
    return parser.blocks


def cypher_examples() -> list[str]:
    return [b for b in runnable_blocks(browser.guide_html("http://127.0.0.1:1/atlas.grass")) if not b.startswith(":")]


# --- pure ------------------------------------------------------------------------


def test_lines_and_urls():
    urls = browser.urls("127.0.0.1", 8765)
    assert urls == browser.Urls("http://127.0.0.1:8765/guide.html", "http://127.0.0.1:8765/atlas.grass")
    assert browser.play_line(urls.guide) == ":play http://127.0.0.1:8765/guide.html"
    assert browser.style_line(urls.style) == ":style http://127.0.0.1:8765/atlas.grass"
    assert browser.urls("::1", 80).guide == "http://[::1]:80/guide.html"


def test_guide_has_slides_param_line_first_and_the_served_style_url():
    html = browser.guide_html("http://127.0.0.1:9999/atlas.grass")
    parser = _Runnable()
    parser.feed(html)
    assert parser.slides == [
        "Token atlas",
        "Nearest tokens",
        "Variant groups",
        "A prompt",
        "Atlas sample",
        "Community map",
        "A community",
        "Hubs",
        "Under-trained tokens",
        "Mutual pairs",
        "Vector arithmetic",
        "Two atlases",
        "Models",
    ]
    assert parser.blocks[0] == f":param model => '{DEFAULT_MODEL_NAME}'"
    assert parser.blocks[1] == ":style http://127.0.0.1:9999/atlas.grass"
    assert browser.STYLE_URL_PLACEHOLDER not in html
    assert "<script" not in html.lower()
    assert re.search(r"<title>Token atlas</title>", html)


def test_every_cypher_example_reads_the_model_from_the_parameter():
    examples = cypher_examples()
    assert len(examples) >= 10
    for cypher in examples:
        if cypher.startswith("MATCH (m:Model)"):
            continue  # the list of all models
        assert "$model" in cypher, cypher
        assert "all-MiniLM" not in cypher, cypher
    assert any(ARTICLE_PROMPT in c and ":Prompt" in c and "HAS_TOKEN" in c for c in examples)
    assert any("text: 'cat'" in c for c in examples)
    assert any("key: 'list'" in c and "VARIANT_OF" in c for c in examples)
    assert any(":Community" in c and "LINKED" in c and "LIMIT 40" in c for c in examples)
    assert any("[' list', 'list']" in c and ":Community" in c and "SIMILAR_TO" in c for c in examples)
    assert any("t.cited AS cited" in c for c in examples)
    assert any("mutual: true" in c for c in examples)


def parse_grass(text: str) -> dict[str, dict[str, str]]:
    """GraSS read the way Neo4j Browser's parser reads it (grassUtils.parseGrassCSS).

    Quotes are dropped, braces inside quotes kept, a declaration counts only when it
    has exactly one colon, and there is no comment syntax.
    """
    rules: dict[str, str] = {}
    in_string = in_props = in_binding = False
    selector = props = ""
    for c in text:
        skip = True
        if c == "{":
            if in_string:
                skip = False
            elif in_props:
                in_binding = True
            else:
                in_props = True
        elif c == "}":
            if in_string:
                skip = False
            elif in_binding:
                in_binding = False
            else:
                in_props = False
                rules[selector], selector, props = props, "", ""
        elif c in "'\"":
            in_string = not in_string
        else:
            skip = False
        if skip:
            continue
        if in_props:
            props += c
        elif not c.isspace():
            selector += c
    parsed = {}
    for name, body in rules.items():
        pairs = [d.split(":") for d in body.split(";")]
        parsed[name] = {p[0].strip(): p[1].strip() for p in pairs if len(p) == 2}
    return parsed


def test_stylesheet_captions_and_styles_each_kind_apart():
    text = browser.stylesheet()
    assert "/*" not in text and "//" not in text  # Browser's GraSS parser has no comments
    rules = parse_grass(text)
    assert rules["node.Token"]["caption"] == "{text}"
    assert rules["relationship.SIMILAR_TO"]["caption"] == "{score}"
    assert rules["node.Variant"]["caption"] == "{key}"
    assert rules["node.Model"]["caption"] == "{name}"
    assert rules["node.Community"]["caption"] == "{label}"
    assert rules["relationship.LINKED"]["caption"] == "{edges}"
    kinds = ["node.Token", "node.Prompt", "node.Variant", "node.Model", "node.Community"]
    assert len({rules[k]["color"] for k in kinds}) == 5
    assert len({rules[k]["diameter"] for k in kinds}) == 5
    assert int(rules["node.Community"]["diameter"].removesuffix("px")) == max(
        int(rules[k]["diameter"].removesuffix("px")) for k in kinds
    )  # a community stands for many tokens: the largest circle
    kinds = ["relationship.SIMILAR_TO", "relationship.HAS_TOKEN", "relationship.VARIANT_OF", "relationship.LINKED"]
    assert len({rules[k]["color"] for k in kinds}) == 4
    for props in rules.values():
        assert all(re.fullmatch(r"#[0-9A-Fa-f]{6}", v) for k, v in props.items() if "color" in k)


# --- the server ------------------------------------------------------------------


@pytest.fixture(scope="module")
def served():
    server, urls = browser.serve(port=0)
    with server:
        yield server, urls


def fetch(url: str, method: str = "GET", headers: dict | None = None):
    request = urllib.request.Request(url, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read().decode("utf-8")


def fetch_with_cors(url: str, content_type: str) -> str:
    """GET ``url``, check it answers 200 with ``content_type`` and allows any origin; return the body."""
    status, headers, body = fetch(url)
    assert status == 200
    assert headers["Content-Type"] == content_type
    assert headers["Access-Control-Allow-Origin"] == "*"
    return body


def test_serves_the_guide_with_cors(served):
    _, urls = served
    body = fetch_with_cors(urls.guide, "text/html; charset=utf-8")
    assert browser.style_line(urls.style) in body
    assert body == browser.guide_html(urls.style)


def test_serves_the_stylesheet_with_cors(served):
    _, urls = served
    assert fetch_with_cors(urls.style, "text/plain; charset=utf-8") == browser.stylesheet()


def test_answers_the_preflight_of_browsers_guide_request(served):
    _, urls = served
    status, headers, body = fetch(
        urls.guide,
        "OPTIONS",
        {
            "Origin": "http://127.0.0.1:7474",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "cache-control,pragma",
        },
    )
    assert status == 204 and body == ""
    assert headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in headers["Access-Control-Allow-Methods"]
    assert headers["Access-Control-Allow-Headers"] == "cache-control,pragma"


def test_unknown_path_is_404(served):
    _, urls = served
    with pytest.raises(urllib.error.HTTPError, match="404"):
        fetch(urls.guide.replace("guide.html", "nothing.html"))


def test_port_in_use_says_to_pick_another():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(
            InvalidArgument,
            match=rf"^port {port} on 127.0.0.1 is already in use — pick another port \(port=\.\.\., --port\)$",
        ):
            browser.serve("127.0.0.1", port)


def test_port_out_of_range():
    with pytest.raises(InvalidArgument, match="between 0 and 65535"):
        browser.serve("127.0.0.1", 70000)


def test_stop_releases_the_port():
    server, _urls = browser.serve(port=0)
    port = server.server_address[1]
    server.stop()
    again, _ = browser.serve(port=port)
    again.stop()


# --- the server under hostile or careless clients ------------------------------------


def wait_for_threads(count: int, timeout: float = 15) -> None:
    """Wait until no more than ``count`` threads run (the server's connection threads have ended)."""
    deadline = time.monotonic() + timeout
    while threading.active_count() > count:
        assert time.monotonic() < deadline, [t.name for t in threading.enumerate()]
        time.sleep(0.02)


def test_a_silent_half_sent_request_is_closed_after_the_idle_timeout():
    server, urls = browser.serve(port=0, idle_timeout=0.5)
    with server, socket.create_connection(server.server_address[:2], timeout=10) as client:
        client.sendall(b"GET /guide.html HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # no blank line: the request never ends
        began = time.monotonic()
        assert client.recv(1024) == b""  # closed by the server, not by our 10 s timeout
        assert time.monotonic() - began < 5
        assert fetch(urls.guide)[0] == 200


def test_the_default_idle_timeout_is_ten_seconds():
    server, _ = browser.serve(port=0)
    with server:
        assert server.idle_timeout == browser.IDLE_TIMEOUT == 10.0


def test_a_client_that_leaves_mid_response_leaves_no_traceback(capfd):
    server, urls = browser.serve(port=0)
    with server:
        idle = threading.active_count()
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # reads nothing, holds little
        client.connect(server.server_address[:2])
        # Far more answers than the two sockets' buffers hold: the server is still writing when we leave.
        client.sendall(b"GET /guide.html HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" * 2000)
        time.sleep(0.3)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()  # a reset, as a closed tab gives
        wait_for_threads(idle)
        assert fetch(urls.guide)[0] == 200
    assert 0 < len(server.requests) < 2000 + 1
    assert capfd.readouterr().err == ""


def test_connections_beyond_the_bound_wait_for_a_free_thread():
    server, urls = browser.serve(port=0)
    with server:
        idle = threading.active_count()
        clients = [socket.create_connection(server.server_address[:2], timeout=10) for _ in range(50)]
        peak, deadline = 0, time.monotonic() + 1.0
        while time.monotonic() < deadline:
            peak = max(peak, threading.active_count() - idle)
            time.sleep(0.01)
        for client in clients:
            client.close()
        assert peak == 16 == browser.MAX_CONNECTIONS
        wait_for_threads(idle)
        assert fetch(urls.guide)[0] == 200


def test_waiting_connections_are_served_as_threads_free_up():
    server, urls = browser.serve(port=0, max_connections=2, idle_timeout=0.3)
    with server:
        silent = [socket.create_connection(server.server_address[:2], timeout=10) for _ in range(4)]
        began = time.monotonic()
        assert fetch(urls.guide)[0] == 200  # waits for the silent ones to time out, two by two
        assert time.monotonic() - began < 5
        for client in silent:
            client.close()


def test_stop_does_not_wait_for_silent_connections():
    server, _ = browser.serve(port=0, max_connections=1, idle_timeout=30)
    clients = [socket.create_connection(server.server_address[:2], timeout=10) for _ in range(3)]
    time.sleep(0.2)
    began = time.monotonic()
    server.stop()
    assert time.monotonic() - began < 3
    for client in clients:
        client.close()


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"idle_timeout": 0}, "the idle timeout must be more than 0 seconds, got 0"),
        ({"max_connections": 0}, "max_connections must be at least 1, got 0"),
    ],
)
def test_limits_must_be_positive(kwargs, message):
    with pytest.raises(InvalidArgument, match=f"^{message}$"):
        browser.serve(port=0, **kwargs)


# --- every example on a real Neo4j ---------------------------------------------------


@pytest.fixture(scope="module")
def sample_model(neo4j_settings):
    """A MiniLM slice with the article's prompt saved, an analysis (communities, hubs, mutual flags), vectors and a
    comparison with itself."""
    from atlas.graph.store import Store
    from atlas.loaders.untrained import score_stored
    from atlas.views.compare import compare_models

    with saved_minilm_slice(
        neo4j_settings, "test-browser", texts=WORDS + ARITHMETIC, vectors=True, analyse=True
    ) as name:
        with Store(neo4j_settings) as store:
            compare_models(store, name, name)  # the comparison slide's examples need one
            score_stored(store, name)  # the under-trained slide's examples need categories and scores
        save_a_context(neo4j_settings, name)
        yield name


def save_a_context(neo4j_settings, model: str) -> None:
    """A saved hidden state, as `atlas context --save` stores one: "cat" at layer 3 of "the cat sat", near two tokens."""
    from atlas.core.context import context_key
    from atlas.graph.context_save import save_context
    from atlas.graph.store import Store

    with Store(neo4j_settings) as store:
        ids = {t: store.read("tokens_by_text", model=model, text=t)[0]["id"] for t in ("cat", "cats", "kitten")}
        near = [{"id": ids["cats"], "rank": 1, "score": 0.5}, {"id": ids["kitten"], "rank": 2, "score": 0.4}]
        row = {"key": context_key(model, "the cat sat", 2, 3), "text": "the cat sat", "position": 2, "layer": 3}
        save_context(store, model, [row | {"id": ids["cat"], "token": "cat", "own_cosine": 0.6, "near": near}])


def example_ids(cypher: str) -> str:
    lines = cypher.split("\n")
    return (lines[0][:50] + " ... " + lines[-1][:40]) if len(lines) > 1 else lines[0][:60]


@pytest.mark.parametrize("cypher", cypher_examples(), ids=example_ids)
def test_guide_example_returns_rows(cypher, sample_model, neo4j_driver, neo4j_settings):
    records, _, _ = neo4j_driver.execute_query(cypher, {"model": sample_model}, database_=neo4j_settings.database)
    assert len(records) > 0


def guide_example(start: str, end: str) -> str:
    (found,) = [c for c in cypher_examples() if c.startswith(start) and c.endswith(end)]
    return found


def run_example(driver, settings, cypher: str, model: str) -> list:
    return driver.execute_query(cypher, {"model": model}, database_=settings.database)[0]


def test_community_map_shows_the_largest_communities_and_their_strongest_links(
    sample_model, neo4j_driver, neo4j_settings
):
    every = run_example(
        neo4j_driver,
        neo4j_settings,
        "MATCH (c:Community {model: $model}) RETURN c.id AS id, c.size AS size",
        sample_model,
    )
    assert len(every) >= 5
    (row,) = run_example(
        neo4j_driver, neo4j_settings, guide_example("MATCH (c:Community", "RETURN communities, links"), sample_model
    )
    shown = row["communities"]
    assert all(set(c.labels) == {"Community"} for c in shown)
    largest = sorted(every, key=lambda r: (-r["size"], r["id"]))[:40]
    assert [c["id"] for c in shown] == [r["id"] for r in largest]
    ids = {c.element_id for c in shown}
    links = row["links"]
    assert 0 < len(links) <= 80
    assert all(
        link.type == "LINKED" and {link.start_node.element_id, link.end_node.element_id} <= ids for link in links
    )
    assert all(link.start_node["id"] < link.end_node["id"] for link in links)  # one per pair, from the lower id
    assert [link["weight"] for link in links] == sorted((link["weight"] for link in links), reverse=True)


def test_a_community_shows_the_community_of_list_and_its_members(sample_model, neo4j_driver, neo4j_settings):
    (list_token,) = run_example(
        neo4j_driver,
        neo4j_settings,
        "MATCH (t:Token {model: $model, text: 'list'}) RETURN t.community AS community",
        sample_model,
    )
    records = run_example(
        neo4j_driver, neo4j_settings, guide_example("MATCH (w:Token", "RETURN c, t, r, n"), sample_model
    )
    assert {r["c"]["id"] for r in records} == {list_token["community"]}
    members = {r["t"]["id"]: r["t"] for r in records}
    assert 1 < len(members) <= 30 and all(t["community"] == list_token["community"] for t in members.values())
    assert all(r["n"]["id"] in members for r in records if r["n"] is not None)  # edges among the members only
    table = run_example(neo4j_driver, neo4j_settings, guide_example("MATCH (w:Token", "LIMIT 25"), sample_model)
    assert [r["cited"] for r in table] == sorted((r["cited"] for r in table), reverse=True)


def test_hubs_are_the_most_cited_tokens(sample_model, neo4j_driver, neo4j_settings):
    counted = run_example(
        neo4j_driver,
        neo4j_settings,
        "MATCH (t:Token {model: $model}) WHERE NOT t.special RETURN t.text AS text, COUNT { (t)<-[:SIMILAR_TO]-() } AS cited",
        sample_model,
    )
    table = run_example(
        neo4j_driver, neo4j_settings, guide_example("MATCH (t:Token", "ORDER BY cited DESC, token"), sample_model
    )
    assert len(table) == 25
    assert [r["cited"] for r in table] == sorted((r["cited"] for r in counted), reverse=True)[:25]  # brute force
    assert all(r["community"] for r in table)  # each with its community's label


def test_mutual_pairs_come_once_each_and_both_ways(sample_model, neo4j_driver, neo4j_settings):
    table = run_example(
        neo4j_driver,
        neo4j_settings,
        guide_example("MATCH (a:Token {model: $model})-[r:SIMILAR_TO {mutual: true}]", "LIMIT 25"),
        sample_model,
    )
    assert len(table) == 25
    pairs = [frozenset((r["token"], r["other"])) for r in table]
    assert len(set(pairs)) == len(pairs)
    assert [r["score"] for r in table] == sorted((r["score"] for r in table), reverse=True)
    both = run_example(
        neo4j_driver,
        neo4j_settings,
        "MATCH (a:Token {model: $model})-[r:SIMILAR_TO]->(b) RETURN count(r) AS edges,"
        " count(CASE WHEN EXISTS { (b)-[:SIMILAR_TO]->(a) } THEN 1 END) AS mutual",
        sample_model,
    )[0]
    (share,) = run_example(neo4j_driver, neo4j_settings, guide_example("MATCH (:Token", "AS percent"), sample_model)
    assert (share["edges"], share["mutual"]) == (both["edges"], both["mutual"])  # the stored flags, brute force


def test_a_host_that_is_not_loopback_is_refused_unless_allowed():
    from click.testing import CliRunner

    from atlas.cli import main

    result = CliRunner().invoke(main, ["browser", "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.splitlines() == [
        "Error: host 0.0.0.0 is not a loopback address: Neo4j Browser plays guides only from hosts its server allows "
        "(the local one allows localhost and 127.0.0.1), and anyone on the network could fetch the files; "
        "serve on 127.0.0.1, or pass allow_remote=True (--allow-remote) to serve on it anyway"
    ]
    server, _ = browser.serve("0.0.0.0", 0, allow_remote=True)
    server.stop()
    server, _urls = browser.serve("localhost", 0)
    server.stop()
