"""Commands for servers on this machine: `atlas db` (the local Neo4j) and `atlas browser` (the guide)."""

from __future__ import annotations

from pathlib import Path

import click

from atlas.cli.options import home_option
from atlas.cli.render import say
from atlas.settings import BOLT_PORT, HTTP_PORT, password_file


@click.group()
def db():
    """Run a local Neo4j Community server from Maven Central jars (no Docker needed)."""


@db.command("start")
@home_option
@click.option(
    "--password",
    envvar="NEO4J_PASSWORD",
    help="Password for user neo4j. [default: at the first start a random one, kept in HOME/password; then that one]",
)
@click.option("--bolt-port", default=BOLT_PORT, show_default=True, type=int)
@click.option("--http-port", default=HTTP_PORT, show_default=True, type=int)
@click.option("--heap", default="2g", show_default=True, help="JVM heap size.")
@click.option("--pagecache", default="2g", show_default=True, help="Page cache size.")
def db_start(home, password, bolt_port, http_port, heap, pagecache):
    """Download (once), configure and start Neo4j in the background; reuses a running one."""
    import atlas.db as local_db

    server, started = local_db.start(
        home,
        password=password or None,
        bolt_port=bolt_port,
        http_port=http_port,
        heap=heap,
        pagecache=pagecache,
        on_note=say,
    )
    if started:
        say(f"Neo4j started (pid {server.pid}); logs in {server.log_path.parent}")
    say(f"Bolt: {server.bolt_uri}   Browser: {server.browser_url}   user: neo4j")
    say(password_line(server.home))


@db.command("stop")
@home_option
def db_stop(home):
    """Stop the Neo4j server that `atlas db start` started."""
    import atlas.db as local_db

    say("Neo4j stopped" if local_db.stop(home) else f"no Neo4j started from {home} is running")


@db.command("status")
@home_option
def db_status(home):
    """Say whether the local Neo4j server runs, and where."""
    import atlas.db as local_db

    server = local_db.status(home)
    if server is None:
        raise click.ClickException(f"no Neo4j started from {home} is running; start it with `atlas db start`")
    kept = local_db.password_kept(server.home)
    click.echo(
        f"running  pid {server.pid}  {server.bolt_uri}  {server.browser_url}  logs {server.log_path}  "
        f"password {password_file(server.home) if kept else '(not kept)'}"
    )
    if not kept:
        say(password_line(server.home))


def password_line(home: Path) -> str:
    """Where the password of the local server of ``home`` is, or how to give one."""
    import atlas.db as local_db

    if not local_db.password_kept(home):
        return (
            f"password: not kept ({password_file(home)} does not exist); give it with --password or NEO4J_PASSWORD, "
            "or replace it with a private one with `atlas db password --new`"
        )
    return f"password: in {password_file(home)} (user-only); `atlas db password` prints it"


@db.command("password")
@home_option
@click.option(
    "--new", is_flag=True, help="Replace the password with a new random one, on the running server and in the file."
)
@click.option(
    "--password",
    "current",
    envvar="NEO4J_PASSWORD",
    help="The current password, for --new. [default: the one in HOME/password]",
)
def db_password(home, new, current):
    """Print the local server's password (for Neo4j Browser), kept by `atlas db start` in HOME/password."""
    import atlas.db as local_db

    if new:
        local_db.new_password(home, current or None)
        say(f"Neo4j has a new password for user neo4j, kept in {password_file(home)}")
        return
    click.echo(local_db.password(home))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to serve on.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to serve on.")
@click.option("--allow-remote", is_flag=True, help="Serve on a --host that is not a loopback address.")
def browser(host, port, allow_remote):
    """Serve the Neo4j Browser guide and stylesheet locally and print the lines to paste into Browser."""
    import atlas.db as local_db

    server, urls = local_db.serve_guide(host, port, allow_remote=allow_remote)
    say("Paste into Neo4j Browser (http://127.0.0.1:7474/browser/):")
    click.echo(local_db.style_line(urls.style))
    click.echo(local_db.play_line(urls.guide))
    say("serving the guide and stylesheet; Ctrl-C stops")
    try:
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
