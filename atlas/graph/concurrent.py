"""Write transactions run a few at a time, with a bounded number built and waiting, stopping at the first failure."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


def write_concurrently(writes: Iterable[Callable[[], T]], writers: int, done: Callable[[T], None]) -> None:
    """Call each of ``writes`` in ``writers`` threads; ``done`` is told each one's result, in the order of ``writes``.

    ``writes`` is taken lazily: at most ``2 * writers`` writes are built and unfinished at a
    time, so memory stays bounded however many there are. The first failed write ends the
    run with its error: writes not yet started are dropped, not each tried against a server
    that has stopped answering.
    """
    pending: deque[Future[T]] = deque()
    with ThreadPoolExecutor(max_workers=writers) as pool:
        try:
            for write in writes:
                pending.append(pool.submit(write))
                while len(pending) > 2 * writers:
                    done(pending.popleft().result())
            for future in pending:
                done(future.result())
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
