"""The local server's password of user neo4j: kept in the home's password file, made at random, set before the first start."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path

from atlas.errors import LauncherError, PasswordMissing
from atlas.server.home import last_line, private_log, write_private
from atlas.server.processes import ADMIN_TOOL, UMASK, java_env
from atlas.settings import password_file

MIN_PASSWORD_LENGTH = 8  # Neo4j's dbms.security.auth_minimum_password_length


def saved_password(home: Path) -> str | None:
    """The password kept in the password file of ``home``, or None if it has none."""
    try:
        text = password_file(Path(home).expanduser()).read_text(encoding="utf-8")
    except OSError:
        return None
    return text.rstrip("\r\n") or None


def new_password() -> str:
    """A random password: 24 characters from 144 random bits, safe in URLs and shells, not starting with "-"."""
    while True:
        password = secrets.token_urlsafe(18)
        if not password.startswith("-"):  # it would read as an option on a command line
            return password


def login_password(home: Path, password: str | None) -> str:
    """``password`` if given, else the one kept in the home's password file."""
    password = password or saved_password(home)
    if password is None:
        raise PasswordMissing(
            f"{password_file(home)} does not exist (the home was set up before token atlas kept its password): "
            "give the password (password=..., --password or NEO4J_PASSWORD; token-atlas, unless you chose another), and "
            "replace it with a private one with `atlas db password --new`"
        )
    return password


def _argument_file(password: str) -> str:
    r"""The password as a picocli argument file holds it: after ``--`` (so that a leading "-" is no option),
    in double quotes, with backslashes and quotes escaped.

    >>> print(_argument_file('-say "hi" \\ bye'), end="")
    --
    "-say \"hi\" \\ bye"
    """
    return '--\n"' + password.replace("\\", "\\\\").replace('"', '\\"') + '"\n'


def set_initial_password(java: str, lib: Path, home: Path, password: str) -> None:
    """Run ``neo4j-admin dbms set-initial-password`` with the password in a private argument file (``@FILE``),
    so that it never shows on a command line (``ps``, /proc)."""
    log = home / "logs" / "set-initial-password.log"
    arguments = home / "run" / "initial-password.args"
    write_private(arguments, _argument_file(password))
    try:
        with private_log(log) as out:
            result = subprocess.run(
                [
                    java,
                    "-Dfile.encoding=UTF-8",
                    "-cp",
                    f"{lib}/*",
                    ADMIN_TOOL,
                    "dbms",
                    "set-initial-password",
                    f"@{arguments}",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=java_env(home),
                cwd=home,
                timeout=300,
                umask=UMASK,
            )
    finally:
        arguments.unlink(missing_ok=True)
    if result.returncode != 0:
        detail = last_line(log, ("Exception:", "ERROR")) or f"exit status {result.returncode}"
        raise LauncherError(f"setting the initial Neo4j password failed: {detail} (read {log})")
