"""Provisioning the local server: its jars from Maven Central, a Java to run them, and its neo4j.conf."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from string import Template

from atlas.core.progress import Note
from atlas.errors import LauncherError
from atlas.server.home import last_line, locked
from atlas.settings import NEO4J_VERSION

BROWSER_VERSION = "5.24.0"
DOWNLOAD_SIZE = "~133 MB"
MIN_JAVA = 17
SUPPORTED_JAVA = (17, 21)
REMOTE_CONTENT_ALLOWLIST = "localhost,127.0.0.1"


def neo4j_conf(bolt_port: int, http_port: int, heap: str, pagecache: str) -> str:
    """The text of ``neo4j.conf`` for a local-only server on the given ports and memory sizes."""
    template = resources.files("atlas.server").joinpath("neo4j/neo4j.conf").read_text(encoding="utf-8")
    return Template(template).substitute(
        bolt_port=bolt_port,
        http_port=http_port,
        heap=heap,
        pagecache=pagecache,
        allowlist=REMOTE_CONTENT_ALLOWLIST,
    )


def java_major_version(version_output: str) -> int | None:
    """The major Java version in the output of ``java -version``, or None if there is none.

    >>> java_major_version('openjdk version "17.0.15" 2025-04-15')
    17
    >>> java_major_version('java version "1.8.0_292"')
    8
    """
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if match is None:
        return None
    major = int(match.group(1))
    if major == 1 and match.group(2) is not None:
        return int(match.group(2))
    return major


def find_java(java: str | Path | None, on_note: Note) -> str:
    if java is None:
        found = shutil.which("java")
        if found is None:
            raise LauncherError("java is not on PATH; install Java 17 or 21 (apt-get install openjdk-17-jre-headless)")
        java = found
    java = str(java)
    try:
        result = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=60)
    except (FileNotFoundError, PermissionError, NotADirectoryError):
        raise LauncherError(f"java not found at {java}; install Java 17 or 21 or point to its java") from None
    major = java_major_version(result.stderr + result.stdout)
    if major is None:
        raise LauncherError(f"cannot tell the Java version of {java} (`{java} -version` failed)")
    if major < MIN_JAVA:
        raise LauncherError(
            f"Neo4j {NEO4J_VERSION} needs Java 17 or 21, but {java} is Java {major}; "
            "install openjdk-17-jre-headless or point to a newer java"
        )
    if major not in SUPPORTED_JAVA:
        on_note(f"warning: Neo4j {NEO4J_VERSION} supports Java 17 and 21; {java} is Java {major}")
    return java


def _find_mvn(mvn: str | Path | None) -> str:
    if mvn is None:
        found = shutil.which("mvn")
        if found is None:
            raise LauncherError(
                "mvn (Apache Maven) is not on PATH and is needed once to download the Neo4j jars; "
                "install it (apt-get install maven)"
            )
        return found
    if not Path(mvn).is_file() or not os.access(mvn, os.X_OK):
        raise LauncherError(f"mvn not found at {mvn}; install Apache Maven or point to its mvn")
    return str(mvn)


def _jars_present(lib: Path) -> bool:
    return all(
        (lib / jar).is_file()
        for jar in (
            f"neo4j-{NEO4J_VERSION}.jar",
            f"neo4j-server-{NEO4J_VERSION}.jar",
            f"neo4j-browser-{BROWSER_VERSION}.jar",
        )
    )


def provision(lib: Path, mvn: str | Path | None, on_note: Note) -> None:
    """Download the server's jars into ``lib`` with Maven, once; the folder appears only when complete."""
    if _jars_present(lib):
        return
    lib.parent.mkdir(parents=True, exist_ok=True)
    with locked(lib.parent / f".{lib.name}.lock"):
        if _jars_present(lib):
            return
        mvn_exe = _find_mvn(mvn)
        on_note(f"downloading Neo4j {NEO4J_VERSION} jars ({DOWNLOAD_SIZE}, once) into {lib}")
        template = resources.files("atlas.server").joinpath("neo4j/pom.xml").read_text(encoding="utf-8")
        pom = Template(template).substitute(neo4j_version=NEO4J_VERSION, browser_version=BROWSER_VERSION)
        with tempfile.TemporaryDirectory(prefix=f".{lib.name}-", dir=lib.parent) as folder:
            work = Path(folder)
            (work / "pom.xml").write_text(pom, encoding="utf-8")
            jars = work / "lib"
            log = lib.parent / "provision.log"
            with open(log, "w", encoding="utf-8") as out:
                result = subprocess.run(
                    [
                        mvn_exe,
                        "-B",
                        "-q",
                        "-Dstyle.color=never",
                        "-f",
                        str(work / "pom.xml"),
                        "dependency:copy-dependencies",
                        f"-DoutputDirectory={jars}",
                        "-DincludeScope=runtime",
                    ],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=work,
                )
            if result.returncode != 0 or not _jars_present(jars):
                detail = last_line(log, ("[ERROR]", "ERROR")) or f"mvn exited with {result.returncode}"
                raise LauncherError(f"downloading the Neo4j jars failed: {detail} (read {log})")
            if lib.exists():
                shutil.rmtree(lib)
            jars.rename(lib)
