"""Fetching a hub model's input embedding by HTTP ranges, against a real local HTTP server standing in for the hub."""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from collections import Counter
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from atlas.errors import SourceNotFound
from atlas.files import hub_fetch
from atlas.files.model_files import embedding_tensor_name
from atlas.graph.store import Store
from atlas.graph.stored_graph import read_graph
from atlas.loaders import load_embedding_table
from atlas.loaders.pipeline import load

REPO = "tiny-org/tiny-qwen"
BIG = 4_000_000  # bytes of the extra tensor beside the embedding


class Hub(ThreadingHTTPServer):
    """Serves ``/{repo}/resolve/main/{file}`` from a folder, with byte ranges unless ``ranges`` is off; counts bytes sent per file."""

    def __init__(self, folder: Path, ranges: bool = True):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.folder, self.ranges, self.sent, self.requests = folder, ranges, Counter(), Counter()
        self.extra = 0  # bytes sent past the end of every range asked for (a faulty server)
        self.trickle = 0.0  # seconds between bytes of a range longer than 10,000 bytes (a stalling server)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        server: Hub = self.server  # type: ignore[assignment]
        match = re.fullmatch(rf"/{re.escape(REPO)}/resolve/main/(.+)", self.path)
        path = server.folder / match.group(1) if match else None
        if path is None or not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        wanted = re.fullmatch(r"bytes=(\d+)-(\d+)", self.headers.get("Range", ""))
        if wanted and server.ranges:
            start, end = int(wanted.group(1)), min(int(wanted.group(2)), len(data) - 1)
            body = data[start : end + 1 + server.extra]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        # counted before the body goes out: a client holding the bytes finds them counted (no race with the test)
        server.sent[path.name] += len(body)
        server.requests[path.name] += 1
        if server.trickle and wanted and len(body) > 10_000:
            for i in range(len(body)):
                time.sleep(server.trickle)
                try:
                    self.wfile.write(body[i : i + 1])
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return
        else:
            self.wfile.write(body)


@pytest.fixture
def hub(monkeypatch, tmp_path):
    """Start a hub on a free port and point the hub client (HF_ENDPOINT) and our cache (HOME) at it and tmp_path."""
    from huggingface_hub import constants

    started = []

    def start(folder: Path, ranges: bool = True) -> Hub:
        server = Hub(folder, ranges)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        monkeypatch.setattr(constants, "ENDPOINT", server.endpoint)
        monkeypatch.setattr(
            constants, "HUGGINGFACE_CO_URL_TEMPLATE", server.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        )
        return server

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    yield start
    for server in started:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def single_file(qwen_folder, tmp_path_factory) -> Path:
    """The tiny Qwen as one model.safetensors with a 4 MB tensor beside the embedding (no index, no shards)."""
    folder, _, _ = qwen_folder
    out = tmp_path_factory.mktemp("single")
    tensors = {}
    for shard in sorted(folder.glob("*.safetensors")):
        tensors.update(load_file(shard))
    tensors["model.extra.weight"] = np.random.default_rng(0).normal(size=(BIG // 4 // 1000, 1000)).astype(np.float32)
    save_file(tensors, out / "model.safetensors")
    for f in folder.iterdir():
        if f.suffix != ".safetensors" and f.name != "model.safetensors.index.json":
            shutil.copy(f, out / f.name)
    return out


def needed_bytes(path: Path, tensor: str) -> int:
    """The tensor's bytes and the file's header (8 + its length)."""
    raw = path.read_bytes()
    length = int.from_bytes(raw[:8], "little")
    begin, end = json.loads(raw[8 : 8 + length])[tensor]["data_offsets"]
    return 8 + length + end - begin


def test_only_the_embedding_bytes_are_fetched_and_the_graph_matches_the_folder(hub, single_file, neo4j_settings):
    server = hub(single_file)
    tensor = embedding_tensor_name(single_file)
    table = load_embedding_table(REPO, name="test-hub-fetch-0")
    assert server.sent["model.safetensors"] <= 1.01 * needed_bytes(single_file / "model.safetensors", tensor)
    assert server.sent["model.safetensors"] < BIG / 10
    local = load_embedding_table(str(single_file), name="test-hub-fetch-1")
    np.testing.assert_array_equal(table.matrix, local.matrix)
    assert (table.ids == local.ids).all() and table.raw == local.raw
    names = [table.name, local.name]
    with Store(neo4j_settings) as store:
        try:
            for name, source in zip(names, (table, local)):
                if store.model(name) is not None:
                    store.delete_model(name)
                load(store, source, 5)
            a, b = (read_graph(store, name) for name in names)
            assert (a.ids == b.ids).all() and (a.neighbours == b.neighbours).all() and a.text == b.text
            np.testing.assert_array_equal(a.scores, b.scores)
        finally:
            for name in names:
                store.delete_model(name)
    before = server.sent["model.safetensors"]
    load_embedding_table(REPO, name="again", offline=True)  # from our cache, checked by its recorded SHA-256
    assert server.sent["model.safetensors"] == before


def test_a_sharded_checkpoint_fetches_from_one_shard_only(hub, qwen_folder):
    folder, model, n_tokens = qwen_folder
    server = hub(folder)
    index = json.loads((folder / "model.safetensors.index.json").read_text())
    tensor = "model.embed_tokens.weight"
    shard = index["weight_map"][tensor]
    table = load_embedding_table(REPO, name="hub")
    np.testing.assert_array_equal(table.matrix, model.get_input_embeddings().weight.detach().numpy()[:n_tokens])
    fetched = {name for name in server.sent if name.endswith(".safetensors")}
    assert fetched == {shard}
    assert server.sent[shard] <= 1.01 * needed_bytes(folder / shard, tensor)
    assert server.requests["model.safetensors.index.json"] == 1


def test_a_server_without_ranges_sends_the_whole_file_and_says_so(hub, single_file, tmp_path):
    server = hub(single_file, ranges=False)
    said: list[str] = []
    folder = hub_fetch.fetch_small_files(REPO)
    tensor = embedding_tensor_name(single_file)
    fetched = hub_fetch.fetch_tensor(REPO, "model.safetensors", tensor, folder, on_warning=said.append)
    assert said == [f"the server of {REPO} does not send byte ranges: fetching the whole of model.safetensors"]
    assert not fetched.ranged and fetched.transferred == (single_file / "model.safetensors").stat().st_size
    assert (folder / "model.safetensors").read_bytes() == (single_file / "model.safetensors").read_bytes()
    assert server.sent["model.safetensors"] >= fetched.transferred


def test_an_interrupted_fetch_continues_where_it_stopped(hub, single_file):
    server = hub(single_file)
    folder = hub_fetch.fetch_small_files(REPO)
    tensor = embedding_tensor_name(single_file)
    progress: list[tuple[int, int]] = []
    first = hub_fetch.fetch_tensor(
        REPO, "model.safetensors", tensor, folder, on_progress=lambda d, t: progress.append((d, t))
    )
    assert progress[-1][0] == progress[-1][1]
    whole = first.path.read_bytes()
    part = folder / "model.safetensors.part"
    part.write_bytes(whole[: len(whole) - 1000])  # as if the connection dropped 1,000 bytes before the end
    first.path.unlink()
    before = server.sent["model.safetensors"]
    again = hub_fetch.fetch_tensor(REPO, "model.safetensors", tensor, folder)
    assert again.path.read_bytes() == whole and again.sha256 == first.sha256
    remote = (single_file / "model.safetensors").read_bytes()
    header = 8 + int.from_bytes(remote[:8], "little")
    assert server.sent["model.safetensors"] - before == header + 1000  # the header again, then the missing end


@pytest.mark.parametrize("ranges", [True, False])
def test_atlas_load_shows_the_fetch_and_says_when_the_whole_file_comes(hub, single_file, run, model_name, ranges):
    hub(single_file, ranges=ranges)
    result = run("load", REPO, "--name", model_name, "--k", "5", "--no-analysis")
    assert result.exit_code == 0, result.output
    size = (single_file / "model.safetensors").stat().st_size
    fetched = re.search(r"^fetch: ([\d,]+) in ", result.stderr, re.MULTILINE)
    assert fetched is not None, result.stderr
    sent = int(fetched.group(1).replace(",", ""))
    notice = f"the server of {REPO} does not send byte ranges: fetching the whole of model.safetensors"
    if ranges:
        raw = (single_file / "model.safetensors").read_bytes()
        header = json.loads(raw[8 : 8 + int.from_bytes(raw[:8], "little")])
        begin, end = header[embedding_tensor_name(single_file)]["data_offsets"]
        assert sent == end - begin  # the progress counts the embedding's bytes, not the file's
        assert notice not in result.stderr
    else:
        assert sent == size
        assert notice in result.stderr


def _damage(path: Path, how: str) -> None:
    raw = bytearray(path.read_bytes())
    if how == "changed":  # same size, 128 bytes of one row zeroed
        raw[-4096 : -4096 + 128] = bytes(128)
    else:
        del raw[-5000:]
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["changed", "truncated"])
def test_a_damaged_cache_is_fetched_again_and_said(hub, single_file, how):
    server = hub(single_file)
    first = load_embedding_table(REPO, name="hub")
    cached = hub_fetch.cache_folder(REPO, "main") / "model.safetensors"
    whole = cached.read_bytes()
    _damage(cached, how)
    with pytest.raises(SourceNotFound, match=r"the cached model.safetensors of 'tiny-org/tiny-qwen' does not match"):
        load_embedding_table(REPO, name="hub", offline=True)
    said: list[str] = []
    before = server.requests["model.safetensors"]
    again = load_embedding_table(REPO, name="hub", on_warning=said.append)
    assert said == [
        f"the cached model.safetensors of {REPO} does not match what was fetched (changed or truncated): "
        "fetching it again"
    ]
    assert server.requests["model.safetensors"] > before
    assert cached.read_bytes() == whole
    np.testing.assert_array_equal(again.matrix, first.matrix)
    said.clear()
    load_embedding_table(REPO, name="hub", on_warning=said.append)  # sound again: used as it is, nothing said
    assert said == []


def test_a_damaged_cache_fetches_only_from_its_first_bad_block(hub, single_file, monkeypatch):
    monkeypatch.setattr(hub_fetch, "CHUNK", 4096)  # blocks of 4 KiB, so the tensor has several
    server = hub(single_file)
    folder = hub_fetch.fetch_small_files(REPO)
    tensor = embedding_tensor_name(single_file)
    first = hub_fetch.fetch_tensor(REPO, "model.safetensors", tensor, folder)
    whole = first.path.read_bytes()
    _damage(first.path, "changed")  # a block 4,096 bytes before the end
    before = server.sent["model.safetensors"]
    again = hub_fetch.fetch_tensor(REPO, "model.safetensors", tensor, folder)
    assert again.path.read_bytes() == whole and again.sha256 == first.sha256
    assert server.sent["model.safetensors"] - before < 3 * 8192  # the header and the last blocks, not the tensor


def test_atlas_load_fetches_a_changed_cache_again(hub, single_file, run, model_name, neo4j_settings):
    hub(single_file)
    load_embedding_table(REPO, name="hub")
    _damage(hub_fetch.cache_folder(REPO, "main") / "model.safetensors", "changed")
    result = run("load", REPO, "--name", model_name, "--k", "5", "--no-analysis")
    assert result.exit_code == 0, result.output
    assert "does not match what was fetched (changed or truncated): fetching it again" in result.stderr
    local = load_embedding_table(str(single_file), name="local")
    with Store(neo4j_settings) as store:
        graph = read_graph(store, model_name)
    assert len(graph.ids) == len(local.ids) and (graph.neighbours >= 0).all()


def test_a_server_sending_more_than_the_range_asked_writes_only_the_range(hub, single_file):
    server = hub(single_file)
    server.extra = 70_000
    folder = hub_fetch.fetch_small_files(REPO)
    tensor = embedding_tensor_name(single_file)
    fetched = hub_fetch.fetch_tensor(REPO, "model.safetensors", tensor, folder)
    expected = load_file(single_file / "model.safetensors")[tensor]
    np.testing.assert_array_equal(load_file(fetched.path)[tensor], expected)


def test_a_part_longer_than_the_tensor_is_started_again(hub, single_file):
    hub(single_file)
    folder = hub_fetch.fetch_small_files(REPO)
    tensor = embedding_tensor_name(single_file)
    first = hub_fetch.fetch_tensor(REPO, "model.safetensors", tensor, folder)
    whole = first.path.read_bytes()
    first.path.unlink()
    (folder / "model.safetensors.part").write_bytes(whole + bytes(70_000))  # what a faulty server left
    again = hub_fetch.fetch_tensor(REPO, "model.safetensors", tensor, folder)
    assert again.path.read_bytes() == whole


def test_a_trickling_server_is_stopped_with_a_line_and_the_fetch_continues_later(hub, single_file, monkeypatch):
    monkeypatch.setattr(hub_fetch, "STALL_SECONDS", 1.0)
    monkeypatch.setattr(hub_fetch, "STALL_BYTES", 1000)
    server = hub(single_file)
    server.trickle = 0.01  # about 100 bytes a second
    folder = hub_fetch.fetch_small_files(REPO)
    tensor = embedding_tensor_name(single_file)
    started = time.monotonic()
    with pytest.raises(SourceNotFound, match=r"too slow to finish; stopped \(what arrived is kept\)"):
        hub_fetch.fetch_tensor(REPO, "model.safetensors", tensor, folder)
    assert time.monotonic() - started < 10
    part = folder / "model.safetensors.part"
    kept = part.stat().st_size
    server.trickle = 0.0
    before = server.sent["model.safetensors"]
    fetched = hub_fetch.fetch_tensor(REPO, "model.safetensors", tensor, folder)
    np.testing.assert_array_equal(load_file(fetched.path)[tensor], load_file(single_file / "model.safetensors")[tensor])
    remote = (single_file / "model.safetensors").read_bytes()
    header = 8 + int.from_bytes(remote[:8], "little")
    own = 8 + int.from_bytes(whole_prefix(fetched.path), "little")
    assert server.sent["model.safetensors"] - before == header + fetched.path.stat().st_size - kept
    assert kept > own  # some of the tensor had arrived and was kept


def whole_prefix(path: Path) -> bytes:
    return path.read_bytes()[:8]
