"""Exclusive loads: one lease per model name, kept in Neo4j, renewed while a load or analysis runs.

Two loads of one name writing at once corrupt it, so a load (or an analysis) first takes
the name's lease: ``(:LoadLease {model, host, pid, started, token, expires})``, taken in
one transaction that the uniqueness constraint on ``model`` serialises. A holder renews
it every few seconds; a lease that is not renewed expires, so a load killed with -9
blocks the name for at most ``seconds``, and not at all for a later load on the same
machine, which sees the holder's process is gone and takes over at once.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

from atlas.errors import ModelBusy
from atlas.graph.store import Store

SECONDS = 60  # how long a lease lasts without renewal
RENEW_EVERY = 5  # seconds between renewals


def _process_started(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (tells a pid from a later reuse of it), or None."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _gone(holder: dict) -> bool:
    """Whether a lease holder on this machine is no longer running (its pid is gone or is another process now)."""
    if holder.get("host") != socket.gethostname() or holder.get("pid") is None:
        return False
    pid = int(holder["pid"])
    if not Path("/proc/self").exists():
        return False
    started = _process_started(pid)
    return started is None or (holder.get("proc_start") is not None and started != holder["proc_start"])


class Lease:
    """The lease on one model name, held from ``__enter__`` to ``__exit__`` and renewed in a thread meanwhile.

    ``lost`` turns true if a renewal finds the lease taken over (the holder was stalled
    past its expiry); the holder checks it before it marks its work complete.
    """

    def __init__(self, store: Store, model: str, seconds: float = SECONDS, renew_every: float = RENEW_EVERY):
        self.store, self.model, self.seconds, self.renew_every = store, model, seconds, renew_every
        pid = os.getpid()
        self.owner = {
            "host": socket.gethostname(),
            "pid": pid,
            "proc_start": _process_started(pid),
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "token": uuid.uuid4().hex,
        }
        self.lost = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def take(self) -> None:
        """Take the lease or raise ModelBusy naming who holds it."""
        self.store.ensure_schema()
        if self._try(None):
            return
        holder = self.holder()
        if holder is not None and _gone(holder) and self._try(holder["token"]):
            return
        if holder is None:  # given back between the two reads
            if self._try(None):
                return
            holder = self.holder() or {}
        raise _busy(self.model, holder)

    def _try(self, stale: str | None) -> bool:
        rows = self.store.write("lease_take", model=self.model, owner=self.owner, seconds=self.seconds, stale=stale)
        return bool(rows)

    def holder(self) -> dict | None:
        rows = self.store.read("lease_holder", model=self.model)
        return rows[0] if rows else None

    def renew(self) -> bool:
        renewed = self.store.write("lease_renew", model=self.model, token=self.owner["token"], seconds=self.seconds)
        if not renewed[0]["renewed"]:
            self.lost = True
        return not self.lost

    def release(self) -> None:
        self.store.write("lease_release", model=self.model, token=self.owner["token"])

    def _beat(self) -> None:
        while not self._stop.wait(self.renew_every):
            try:
                if not self.renew():
                    return
            except Exception:  # the load's own next write reports a lost server; a missed beat is retried
                continue

    def __enter__(self) -> Lease:
        self.take()
        self._thread = threading.Thread(target=self._beat, name=f"lease {self.model}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            # After a failure the beat may be waiting on the same server that stopped answering (a new
            # connection's handshake is bounded only by the acquisition timeout): it is a daemon, and a
            # renewal after the release below finds no lease and changes nothing, so it is not waited for.
            self._thread.join(None if exc[0] is None else 1.0)
        try:
            self.release()
        except Exception:
            if exc[0] is None:
                raise


def held(store: Store, model: str) -> bool:
    """Whether a running load or analysis holds the lease on ``model`` now (an unexpired lease whose holder lives)."""
    rows = store.read("lease_holder", model=model)
    return bool(rows) and (rows[0].get("seconds_left") or 0) > 0 and not _gone(rows[0])


def refuse_if_held(store: Store, model: str) -> None:
    """ModelBusy, naming the holder, when a running load or analysis holds ``model``'s lease now."""
    rows = store.read("lease_holder", model=model)
    if rows and (rows[0].get("seconds_left") or 0) > 0 and not _gone(rows[0]):
        raise _busy(model, rows[0])


def _busy(model: str, holder: dict) -> ModelBusy:
    return ModelBusy(
        f"model {model!r} is being loaded or analysed by {holder.get('host')} pid {holder.get('pid')} "
        f"since {holder.get('started')}; wait for it to finish (if that process is gone, its lease expires in "
        f"{max(0, round(holder.get('seconds_left') or 0))} s)"
    )
