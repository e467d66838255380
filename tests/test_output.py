"""Where an export goes: regular files replaced atomically, special files written into, links kept.

Device nodes are made in tmp_path when the tests run as root (a root process may replace
/dev/null itself, so the real ones are only used when they cannot be replaced).
"""

from __future__ import annotations

import io
import os
import stat
import threading

import pytest

from atlas.core.subgraph import Edge, Node, Subgraph
from atlas.errors import ExportError
from atlas.files.output import write_file, write_files, write_output, write_stream
from atlas.pages.export import render, write

BIG = 4 << 20  # bytes: more than a pipe holds, so a writer must wait for its reader


def sample() -> Subgraph:
    return Subgraph("m", "t", [Node(1, "a"), Node(2, "b\x1b")], [Edge(1, 2, 0.5, 1)])


def rendered(fmt: str = "json") -> bytes:
    return render(sample(), fmt)[""].encode("utf-8")


def device(tmp_path, name: str, major: int, minor: int) -> str:
    """A character device like /dev/<name>: a node in tmp_path as root, the real one otherwise."""
    if os.geteuid() != 0:
        return f"/dev/{name}"
    path = tmp_path / name
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
    return str(path)


def temporary_files(*folders) -> list[str]:
    return [name for folder in folders for name in os.listdir(folder) if name.endswith(".tmp")]


class FifoReader:
    """Opens a FIFO for reading in a thread and reads it to the end (or closes it at once)."""

    def __init__(self, path, close_at_once: bool = False):
        self.data = b""
        self.thread = threading.Thread(target=self._read, args=(path, close_at_once), daemon=True)
        self.thread.start()

    def _read(self, path, close_at_once):
        with open(path, "rb") as f:
            if not close_at_once:
                self.data = f.read()

    def join(self):
        self.thread.join(timeout=30)
        assert not self.thread.is_alive(), "the FIFO's reader never saw the writer close it"


# --- special files: written into ------------------------------------------------------------


def test_a_fifo_is_written_into_and_stays_a_fifo(tmp_path):
    fifo = tmp_path / "out.json"
    os.mkfifo(fifo)
    reader = FifoReader(fifo)
    assert write(sample(), "json", str(fifo)) == [str(fifo)]
    reader.join()
    assert reader.data == rendered()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["out.json"]


def test_a_fifo_whose_reader_leaves_is_one_error_line(tmp_path):
    fifo = tmp_path / "out.bin"
    os.mkfifo(fifo)
    reader = FifoReader(fifo, close_at_once=True)
    with pytest.raises(ExportError) as error:
        write_file(str(fifo), b"x" * BIG)
    reader.join()
    assert str(error.value) == f"cannot write {fifo}: Broken pipe; its reader stopped reading before the end"
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.listdir(tmp_path) == ["out.bin"]


def test_a_full_device_is_one_error_line_and_stays_a_device(tmp_path):
    full = device(tmp_path, "full", 1, 7)
    before = os.lstat(full)
    with pytest.raises(ExportError) as error:
        write(sample(), "json", full)
    assert str(error.value) == f"cannot write {full}: No space left on device; free some space or write elsewhere"
    after = os.lstat(full)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino and after.st_rdev == before.st_rdev
    assert temporary_files(os.path.dirname(full)) == []


@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_dev_null_takes_the_export_and_stays_a_device(tmp_path, fmt):
    null = device(tmp_path, "null", 1, 3)
    before = os.lstat(null)
    out = null if fmt != "csv" else os.path.join(tmp_path, "t")
    if fmt == "csv":  # csv names two files after -o: make both links to the device
        for suffix in ("nodes", "edges"):
            os.symlink(null, f"{out}.{suffix}.csv")
    write(sample(), fmt, out)
    if fmt == "csv":
        assert all(os.readlink(f"{out}.{suffix}.csv") == null for suffix in ("nodes", "edges"))
    after = os.lstat(null)
    assert stat.S_ISCHR(after.st_mode) and after.st_ino == before.st_ino
    assert temporary_files(os.path.dirname(null), tmp_path) == []


def test_a_name_of_an_open_descriptor_is_written_into(tmp_path, capfd):
    # Like /dev/stdout, a link to /proc/self/fd/1; pytest's capture makes fd 1 a regular file.
    stdout = tmp_path / "stdout"
    os.symlink("/proc/self/fd/1", stdout)
    write(sample(), "json", str(stdout))
    write(sample(), "json", "/dev/fd/1")
    assert capfd.readouterr().out.encode("utf-8") == rendered() * 2
    assert os.readlink(stdout) == "/proc/self/fd/1"
    assert os.listdir(tmp_path) == ["stdout"]


# --- regular files: replaced atomically --------------------------------------------------------


def test_replacing_a_file_keeps_its_mode(tmp_path):
    target = tmp_path / "atlas.json"
    target.write_text("old")
    os.chmod(target, 0o640)
    write(sample(), "json", str(target))
    assert target.read_bytes() == rendered()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o640
    assert os.listdir(tmp_path) == ["atlas.json"]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_replacing_a_file_keeps_its_owner(tmp_path):
    target = tmp_path / "atlas.json"
    target.write_text("old")
    os.chown(target, 65534, 65534)
    os.chmod(target, 0o4750)  # a set-id bit survives: it is set after the owner
    write(sample(), "json", str(target))
    after = os.stat(target)
    assert (after.st_uid, after.st_gid, stat.S_IMODE(after.st_mode)) == (65534, 65534, 0o4750)


def test_a_new_file_gets_the_mode_the_umask_gives(tmp_path):
    old = os.umask(0o027)
    try:
        write(sample(), "json", str(tmp_path / "new.json"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "new.json").st_mode) == 0o640


def test_writing_through_a_symlink_keeps_the_link_and_replaces_its_target(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "atlas.json"
    target.write_text("old")
    os.chmod(target, 0o600)
    link = tmp_path / "latest.json"
    os.symlink(os.path.join("real", "atlas.json"), link)
    assert write(sample(), "json", str(link)) == [str(link)]
    assert os.readlink(link) == os.path.join("real", "atlas.json")
    assert target.read_bytes() == rendered()
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == ["latest.json", "real"]
    assert os.listdir(tmp_path / "real") == ["atlas.json"]


def test_a_dangling_symlink_gets_its_target_made(tmp_path):
    link = tmp_path / "latest.json"
    os.symlink("made.json", link)
    write(sample(), "json", str(link))
    assert os.path.islink(link)
    assert (tmp_path / "made.json").read_bytes() == rendered()


def test_a_hard_linked_file_is_replaced_and_its_other_names_keep_the_old_content(tmp_path):
    target = tmp_path / "atlas.json"
    target.write_text("old")
    other = tmp_path / "other-name.json"
    os.link(target, other)
    write(sample(), "json", str(target))
    assert target.read_bytes() == rendered()
    assert other.read_text() == "old"
    assert os.stat(target).st_nlink == os.stat(other).st_nlink == 1


def test_a_failed_write_of_one_csv_file_leaves_both_as_they_were(tmp_path):
    full = device(tmp_path, "full", 1, 7)
    nodes, edges = tmp_path / "t.nodes.csv", tmp_path / "t.edges.csv"
    nodes.write_text("keep")
    os.symlink(full, edges)
    with pytest.raises(ExportError, match="No space left on device"):
        write(sample(), "csv", str(tmp_path / "t.csv"))
    assert nodes.read_text() == "keep"
    assert temporary_files(tmp_path) == []


def test_a_path_through_a_file_is_one_error_line(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ExportError) as error:
        write_file(str(tmp_path / "file" / "out.json"), b"{}")
    assert str(error.value) == f"cannot write {tmp_path}/file/out.json: Not a directory; choose a writable path"


# --- the function the exporters share ----------------------------------------------------------


def test_write_files_takes_bytes_and_text(tmp_path):
    write_files({str(tmp_path / "a.bin"): b"\x00\xff", str(tmp_path / "b.txt"): "é\n"})
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\xff"
    assert (tmp_path / "b.txt").read_bytes() == "é\n".encode()


def test_write_stream_takes_bytes_and_text():
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="")
    write_stream(stream, "é\r\n")
    write_stream(stream, b"\x00\xff")
    assert stream.buffer.getvalue() == "é\r\n".encode() + b"\x00\xff"
    binary = io.BytesIO()
    write_stream(binary, b"\x01")
    assert binary.getvalue() == b"\x01"


def test_write_output_takes_dash_for_stdout_and_refuses_no_name(tmp_path):
    stream = io.StringIO()
    write_output("-", "text", stdout=stream)
    assert stream.getvalue() == "text"
    write_output(str(tmp_path / "out.bin"), b"\x00")
    assert (tmp_path / "out.bin").read_bytes() == b"\x00"
    with pytest.raises(ExportError, match=r"^no output file given; name a file, or write - for stdout$"):
        write_output("", b"")


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_csv_to_a_file_that_is_not_regular_is_refused(tmp_path, kind):
    """csv writes NAME.nodes.csv and NAME.edges.csv: beside a FIFO or a device they would be stray files, so it is refused."""
    target = tmp_path / "out.csv"
    if kind == "fifo":
        os.mkfifo(target)
    else:
        target.symlink_to("/dev/null")  # a link in tmp_path: a failing run leaves its stray files there, not in /dev
    before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(ExportError) as refused:
        write(sample(), "csv", str(target))
    assert str(refused.value) == (
        f"cannot write csv to {target}: it is not a regular file, and csv writes two files named after it; "
        "give a file name (NAME.csv gives NAME.nodes.csv and NAME.edges.csv), or -o - for both tables on stdout"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == before
