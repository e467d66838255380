"""Neo4j: connecting, the schema, batched idempotent writes and the read queries.

Every statement of the project's comes from ``cypher/`` by name (:meth:`Store.run_given` runs
one that a library user wrote); values enter only as parameters;
every write batch is one ``execute_write`` transaction keyed by a uniqueness
constraint, so a retried transaction changes nothing.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from atlas.core.units import size_text
from atlas.errors import (
    AtlasError,
    AuthenticationFailed,
    DatabaseFailed,
    InvalidArgument,
    ModelIncomplete,
    ModelNotLoaded,
    Neo4jNotAnswering,
    Neo4jUnavailable,
    PasswordMissing,
    TokenNotFound,
)
from atlas.graph.driver import neo4j_without_dataframes
from atlas.graph.queries import labelled, query
from atlas.settings import DEFAULT_URI, MIN_FREE, Settings

neo4j = neo4j_without_dataframes()
from neo4j.exceptions import (  # noqa: E402
    AuthError,
    ConfigurationError,
    Neo4jError,
    ServiceUnavailable,
    SessionExpired,
    TransientError,
)

SCHEMA = (
    "schema_model_key",
    "schema_token_key",
    "schema_token_text",
    "schema_variant_key",
    "schema_prompt_key",
    "schema_context_key",
    "schema_community_key",
    "schema_token_community",
    "schema_lease_key",
    "schema_comparison_key",
)
START_HINT = "start it with `atlas db start` (or `docker compose up -d`)"
BOLT_SCHEMES = ("bolt", "bolt+s", "bolt+ssc", "neo4j", "neo4j+s", "neo4j+ssc")
# A server that stops answering fails a transaction after this many seconds of retries
# (the driver's default, 30 s per transaction, made a dying server look like a hang).
RETRY_SECONDS = 10
CONNECT_SECONDS = 10
# A server that keeps its connections open but sends nothing (frozen, kill -STOP, a hung machine)
# fails the command after this many seconds without a byte read or written on one connection.
REPLY_SECONDS = 30
# A read that Neo4j refuses as transient (most often "read outdated data ... concurrent data modification"
# while another model is written) is tried again, waiting longer each time, for this many seconds in all.
READ_RETRY_SECONDS = 120


def check_uri(uri: str) -> None:
    """Raise InvalidArgument unless ``uri`` is a Bolt URI that names a host.

    >>> check_uri("neo4j+s://example.org")
    >>> check_uri("bolt://")
    Traceback (most recent call last):
    atlas.errors.InvalidArgument: 'bolt://' names no host; write it like bolt://127.0.0.1:7687 (uri=..., --uri or NEO4J_URI)
    """
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        raise InvalidArgument(
            f"{uri!r} is an HTTP address, but Neo4j is reached over Bolt: write it like {DEFAULT_URI} "
            "(bolt:// or neo4j://, port 7687) as uri=..., --uri or NEO4J_URI"
        )
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        scheme = ""
    if scheme not in BOLT_SCHEMES:
        raise InvalidArgument(f"{uri!r} is not a Neo4j URI; write it like {DEFAULT_URI} (uri=..., --uri or NEO4J_URI)")
    if not parts.hostname:
        raise InvalidArgument(f"{uri!r} names no host; write it like {DEFAULT_URI} (uri=..., --uri or NEO4J_URI)")


def _tls_failed(exc: BaseException) -> bool:
    """Whether a failure to connect came from the TLS handshake (an ssl error anywhere in its chain)."""
    import ssl

    seen: list[BaseException] = [exc]
    while seen:
        error = seen.pop()
        if isinstance(error, ssl.SSLError) or type(error).__name__ == "BoltSecurityError":
            return True
        seen += [e for e in (error.__cause__, error.__context__) if e is not None]
        seen += list(getattr(error, "exceptions", ()))
        if len(seen) > 50:
            return False
    return False


def _refused(exc: Neo4jError) -> str:
    """Why Neo4j refused a statement a caller wrote, in one line, and what to do."""
    reason = (exc.message or exc.code or "no reason given").splitlines()[0]
    if exc.code == "Neo.ClientError.Statement.SyntaxError":
        return f"the Cypher statement does not parse: {reason}"
    if exc.code == "Neo.ClientError.Statement.ParameterMissing":
        return f"the Cypher statement takes a parameter it was not given ({reason}); give each $parameter a value"
    if exc.code == "Neo.ClientError.Statement.AccessMode":
        return (
            "the Cypher statement writes to the graph, and it ran in a read transaction, which may not; "
            "give write=True to run it in a write transaction"
        )
    return f"Neo4j refused the Cypher statement: {reason}"


class Store:
    """A connection to one Neo4j database, with the project's reads and writes."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.database = settings.database
        check_uri(settings.uri)
        if settings.password is None:
            raise PasswordMissing(
                f"no Neo4j password given for {settings.uri}; give it (password=..., --password or NEO4J_PASSWORD)"
            )
        try:
            self.driver = neo4j.GraphDatabase.driver(
                settings.uri,
                auth=(settings.user, settings.password),
                notifications_min_severity="OFF",
                max_transaction_retry_time=RETRY_SECONDS,
                connection_timeout=CONNECT_SECONDS,
                connection_acquisition_timeout=2 * CONNECT_SECONDS,
            )
        except (ConfigurationError, ValueError):
            raise InvalidArgument(
                f"{settings.uri!r} is not a Neo4j URI; write it like {DEFAULT_URI} (uri=..., --uri or NEO4J_URI)"
            ) from None
        self._silent = False  # set once a connection got no reply in REPLY_SECONDS: every call then fails at once
        self._connections: weakref.WeakSet = weakref.WeakSet()
        self._lock = threading.Lock()
        self._deadline_connections()
        with self.errors():
            self.driver.verify_connectivity()

    def _deadline_connections(self) -> None:
        """Give every connection the driver opens a read and write deadline of REPLY_SECONDS.

        The driver waits for a reply without limit (its own timeouts cover connecting only), so a
        server that stops answering but keeps its sockets open would hang a command. The pool's
        opener (the driver's, private) is wrapped: each new connection's socket gets a read and a
        write timeout, and the first timeout marks the server silent and shuts every connection of
        this store down, so threads waiting on other connections end too. Once silent, opening a
        connection raises Neo4jNotAnswering, which the driver does not retry.
        """
        pool = self.driver._pool
        open_connection = pool.opener

        def opener(*args, **kwargs):
            if self._silent:
                raise self._not_answering()
            connection = open_connection(*args, **kwargs)
            bolt_socket = connection.socket
            bolt_socket.set_read_timeout(REPLY_SECONDS)
            bolt_socket.set_write_timeout(REPLY_SECONDS)
            for name in ("recv", "recv_into", "sendall"):
                setattr(bolt_socket, name, self._watched(getattr(bolt_socket, name)))
            self._connections.add(connection)
            return connection

        pool.opener = opener

    def _watched(self, io: Callable) -> Callable:
        """``io`` (a socket's read or write), marking the server silent when it times out."""

        def watched(*args):
            try:
                return io(*args)
            except TimeoutError:
                self._went_silent()
                raise

        return watched

    def _went_silent(self) -> None:
        """Mark the server silent and wake every thread waiting on one of this store's connections."""
        with self._lock:
            self._silent = True
            connections = list(self._connections)
        for connection in connections:
            raw = getattr(connection.socket, "_socket", None)  # the driver's socket wraps the OS socket
            if raw is not None:
                with contextlib.suppress(OSError):
                    raw.shutdown(socket.SHUT_RDWR)  # a blocked recv returns, the descriptor stays the driver's to close

    def _not_answering(self) -> Neo4jNotAnswering:
        return Neo4jNotAnswering(
            f"Neo4j at {self.settings.uri} stopped answering (no reply in {REPLY_SECONDS} s); "
            "check that it runs and is not stalled (restart it with `atlas db stop && atlas db start` "
            "if it is the local server), then run the command again"
        )

    @contextmanager
    def errors(self) -> Iterator[None]:
        """Turn the driver's failures into errors that say what to do."""
        if self._silent:
            raise self._not_answering()
        try:
            yield
        except AuthError:
            raise AuthenticationFailed(
                f"Neo4j at {self.settings.uri} refused user {self.settings.user!r}: wrong password? "
                "set password=..., --password or NEO4J_PASSWORD"
            ) from None
        except (ServiceUnavailable, SessionExpired, OSError) as exc:
            if self._silent:
                raise self._not_answering() from None
            scheme = urlsplit(self.settings.uri).scheme.lower()
            if scheme.endswith(("+s", "+ssc")) and _tls_failed(exc):
                plain = scheme.partition("+")[0]
                raise Neo4jUnavailable(
                    f"Neo4j at {self.settings.uri} did not complete a TLS handshake: {scheme}:// asks for an encrypted "
                    f"connection and the server seems to speak plain Bolt; write {plain}:// if it has no TLS, "
                    "or enable TLS (server.bolt.tls_level) on the server"
                ) from None
            raise Neo4jUnavailable(f"cannot reach Neo4j at {self.settings.uri} — {START_HINT}") from None
        except Neo4jError as exc:
            if exc.code == "Neo.ClientError.Database.DatabaseNotFound":
                raise InvalidArgument(
                    f"Neo4j at {self.settings.uri} has no database {self.database!r}; "
                    "set database=..., --database or NEO4J_DATABASE (Neo4j Community has one: neo4j)"
                ) from None
            # Neo4j answers Neo.DatabaseError.* once its database has failed: a full disk shows as
            # TransactionCommitFailed ("Could not apply the transaction ... to the store"), then
            # TransactionStartFailed ("The database has encountered a critical error") or, when the
            # page cache cannot flush, General.UnknownError ("Exception in the page eviction thread").
            if (exc.code or "").startswith("Neo.DatabaseError."):
                raise DatabaseFailed(self._failure(exc)) from None
            raise AtlasError(f"Neo4j refused a statement: {exc.message or exc.code}") from None

    def _failure(self, exc: Neo4jError) -> str:
        """Why the database failed and what to do, as far as this machine can tell."""
        home = self.settings.local_home
        read_only = self.database in (self._setting("server.databases.read_only", "") or "").split(",")
        if home is not None:
            free = shutil.disk_usage(home).free
            if read_only or free < MIN_FREE:
                return (
                    f"Neo4j ran out of disk space ({size_text(free)} free on the disk of {home}) and "
                    "stopped writing until it restarts: free some space, then restart it with "
                    "`atlas db stop && atlas db start`"
                )
            return (
                f"Neo4j's database {self.database!r} failed ({exc.message or exc.code}); read "
                f"{home / 'logs' / 'debug.log'}, then restart it with `atlas db stop && atlas db start`"
            )
        if read_only:
            return (
                f"Neo4j at {self.settings.uri} switched database {self.database!r} to read-only, as it does when "
                "its disk is full, and stopped writing until it restarts: free space on its disk, then restart it"
            )
        return (
            f"Neo4j's database {self.database!r} at {self.settings.uri} failed ({exc.message or exc.code}); "
            "its debug.log says why (a full disk, most often): fix that, then restart it"
        )

    def _setting(self, name: str, default: str | None = None) -> str | None:
        """One server setting, or ``default`` when the server will not say (not an admin, not answering)."""
        return self.server_settings([name]).get(name, default)

    def server_settings(self, names: list[str]) -> dict[str, str]:
        """The named server settings Neo4j tells (read on the system database, which answers even when ours failed)."""
        try:
            records, _, _ = self.driver.execute_query(
                query("server_settings"), {"names": names}, database_="system", routing_=neo4j.RoutingControl.READ
            )
        except (Neo4jError, ServiceUnavailable, SessionExpired, OSError, Neo4jNotAnswering):
            return {}
        return {r["name"]: r["value"] for r in records}

    def browser_url(self) -> str | None:
        """Neo4j Browser's address on this server: the URI's host with the HTTP port Neo4j listens on.

        None when the server serves no Browser or does not say where.
        """
        found = self.server_settings(
            ["server.http.enabled", "server.http.listen_address", "server.http_enabled_modules"]
        )
        port = found.get("server.http.listen_address", "").rpartition(":")[2]
        if found.get("server.http.enabled", "").lower() != "true" or not port.isdigit():
            return None
        if "BROWSER" not in found.get("server.http_enabled_modules", "").upper().split(","):
            return None
        host = urlsplit(self.settings.uri).hostname or ""
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/browser/"

    def close(self) -> None:
        self.driver.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------
    def read(self, statement: str, /, **params: Any) -> list[dict]:
        """Run the named read statement; rows as dicts."""
        return [r.data() for r in self._read(statement, params)]

    def _read(self, statement: str, params: dict) -> list:
        """The records of the named read statement, tried again while Neo4j refuses it as transient (another
        transaction changed what it read) for up to READ_RETRY_SECONDS: reading beside another model's load is
        normal use. The driver's own retries give up after RETRY_SECONDS."""
        text = query(statement)
        deadline = time.monotonic() + READ_RETRY_SECONDS
        wait = 0.25
        with self.errors():
            while True:
                try:
                    records, _, _ = self.driver.execute_query(
                        text, params, database_=self.database, routing_=neo4j.RoutingControl.READ
                    )
                    return records
                except TransientError as exc:
                    if not exc.is_retryable() or time.monotonic() + wait > deadline:
                        raise
                    time.sleep(wait)
                    wait = min(2 * wait, 5.0)

    def read_row(self, statement: str, /, **params: Any) -> dict:
        """Run the named read statement that returns one row (of long lists, say); its values as the driver decoded them.

        Unlike :meth:`read` it does not walk the values again (``Record.data``), which for a
        row of a million list entries costs more than reading them.
        """
        records = self._read(statement, params)
        return dict(zip(records[0].keys(), records[0]))

    def write(self, statement: str, /, **params: Any) -> list[dict]:
        """Run the named write statement in one transaction (retried by the driver if needed)."""

        def work(tx):
            return [r.data() for r in tx.run(query(statement), params)]

        with self.errors(), self.driver.session(database=self.database) as session:
            return session.execute_write(work)

    def write_labelled(self, statement: str, /, label: str, **params: Any) -> list[dict]:
        """Run the named schema statement with ``label`` written in (see :func:`atlas.graph.queries.labelled`)."""
        text = labelled(statement, label)
        with self.errors():
            records, _, _ = self.driver.execute_query(text, params, database_=self.database)
        return [r.data() for r in records]

    def write_batches(self, statement: str, /, batches: Iterable[list[dict]], **params: Any) -> Iterator[list[dict]]:
        """Write ``$rows`` batches with the named statement, one transaction each; yields each batch's result rows."""
        text = query(statement)

        def work(tx, rows):
            return [r.data() for r in tx.run(text, {**params, "rows": rows})]

        with self.driver.session(database=self.database) as session:
            for rows in batches:
                with self.errors():
                    result = session.execute_write(work, rows)
                yield result

    def run_given(self, cypher: str, params: dict[str, Any], *, write: bool = False) -> tuple[list[str], list[dict]]:
        """Run a statement the caller wrote (the one kind not read from ``cypher/``): its columns and its rows as dicts.

        It runs in one read transaction, in which Neo4j refuses to write, or with ``write`` in a
        write transaction; values enter only as ``params``. A statement Neo4j refuses (it does not
        parse, lacks a parameter, writes in a read transaction, fails on its values) raises
        InvalidArgument with the first line of Neo4j's reason.
        """

        def work(tx):
            result = tx.run(cypher, params)
            return list(result.keys()), [record.data() for record in result]

        mode = neo4j.WRITE_ACCESS if write else neo4j.READ_ACCESS
        with self.errors(), self.driver.session(database=self.database, default_access_mode=mode) as session:
            try:
                return session.execute_write(work) if write else session.execute_read(work)
            except Neo4jError as exc:
                if not (exc.code or "").startswith("Neo.ClientError.Statement."):
                    raise
                raise InvalidArgument(_refused(exc)) from None

    def delete_batches(self, statement: str, /, done: Callable[[int], None] | None = None, **params: Any) -> int:
        """Run the named delete statement (it deletes up to ``$limit`` and returns ``deleted``) until it deletes nothing.

        One transaction per batch; ``done(n)`` is told after each batch of n, the last (0) too.
        Returns how many were deleted in all.
        """
        total = 0
        while True:
            deleted = self.write(statement, **params)[0]["deleted"]
            total += deleted
            if done is not None:
                done(deleted)
            if deleted == 0:
                return total

    # -- schema and models ------------------------------------------------------------
    def ensure_schema(self) -> None:
        for name in SCHEMA:
            self.write(name)

    def model(self, name: str) -> dict | None:
        rows = self.read("model_get", name=name)
        return rows[0]["model"] if rows else None

    def require_model(self, name: str, allow_incomplete: bool = False) -> dict:
        """The model's properties; raises when it is missing or (unless allowed) still loading."""
        model = self.model(name)
        if model is None:
            known = [m["model"]["name"] for m in self.models()]
            hint = f" (loaded: {', '.join(known)})" if known else ""
            raise ModelNotLoaded(f"model {name!r} is not loaded{hint}; load it with `atlas load`")
        if model.get("status") == "deleting" and not allow_incomplete:
            raise ModelIncomplete(
                f"model {name!r} is being deleted or its delete was interrupted; run `atlas delete {name}` to finish it"
            )
        if model.get("status") != "complete" and not allow_incomplete:
            raise ModelIncomplete(
                f"model {name!r} is still loading or its load was interrupted (status {model.get('status')!r}); "
                "run the same `atlas load` again to finish it"
            )
        return model

    def models(self) -> list[dict]:
        return self.read("model_list")

    def delete_model(self, name: str, batch: int = 5000, done: Callable[[int], None] | None = None) -> int:
        """Delete a model's vector index, then its tokens, edges, variant groups, prompts, saved states, communities,
        comparisons and its node, in batches.

        ``done(n)`` is told after each batch of n nodes.
        """
        model = self.model(name)
        if model is not None and model.get("vector_index"):
            self.write("vectors_index_drop", name=model["vector_index"])
        total = self.delete_batches("model_delete_batch", done, model=name, limit=batch)
        self.write("model_delete_node", name=name)
        return total


def require_ids(store: Store, model: str, ids: Iterable[int], what: str = "token id") -> dict[int, dict]:
    """The stored tokens of ``ids``; TokenNotFound for the first one missing."""
    wanted = list(dict.fromkeys(int(i) for i in ids))
    rows = {r["id"]: r for r in store.read("tokens_by_id", model=model, ids=wanted)}
    missing = [i for i in wanted if i not in rows]
    if missing:
        raise TokenNotFound(
            f"{what} {missing[0]} is not stored in model {model!r}"
            + (f" (nor {len(missing) - 1} more)" if len(missing) > 1 else "")
            + "; was the model loaded from the same tokenizer?"
        )
    return rows
