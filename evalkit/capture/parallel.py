"""Preparing records in worker processes while the main process reads and writes.

Decoding, validation, hashing and redaction are pure Python and CPU-bound; the store takes one
writer at a time. So for large inputs the main process reads blocks of the input, hands them
to a pool and writes the storage rows that come back, in input order, while the workers
prepare the next blocks. Only a bounded number of payloads is in flight, so memory stays flat
however large the file. The HTTP API keeps one pool for all its requests (``SharedPool``).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import types
from collections import deque
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import msgspec

from evalkit.capture.prepare import Payload, PrepareContext, PreparedChunk, Preparer
from evalkit.capture.readers import FileProblem, LineBlock, RawItem

log = logging.getLogger("evalkit.capture")

if TYPE_CHECKING:
    # Imported where a pool is made: importing concurrent.futures.process registers an exit
    # hook, which fails once the interpreter is shutting down, and the SDK's writer thread
    # may import ingest then (a Recorder flushed at exit).
    from concurrent.futures import Future, ProcessPoolExecutor

Item = tuple[str, RawItem | LineBlock | FileProblem]

#: Decoded items (CSV and Parquet rows, in-memory records) per payload.
CHUNK = 256
IN_FLIGHT_PER_WORKER = 3

_preparer: Preparer | None = None


def prepare_stream(
    items: Iterable[Item], ctx: PrepareContext, *, workers: int, shared: SharedPool | None = None
) -> Iterator[PreparedChunk]:
    """Prepared chunks in input order; file problems stay where they occurred. ``shared``:
    prepared in that long-lived pool (``workers`` is then not used)."""
    if shared is not None:
        yield from shared.stream(items, ctx)
        return
    if workers <= 1:
        preparer = Preparer(ctx)
        for source, payload in payloads(items):
            yield preparer(source, payload)
        return
    with _pool(workers, ctx) as pool:
        pending: deque[Future[bytes | PreparedChunk]] = deque()
        try:
            for source, payload in payloads(items):
                pending.append(pool.submit(_prepare, source, payload))
                while len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                    yield _decode(pending.popleft().result())
            while pending:
                yield _decode(pending.popleft().result())
        finally:
            for future in pending:
                future.cancel()


def payloads(items: Iterable[Item]) -> Iterator[tuple[str, Payload]]:
    """Group a stream into payloads of one source each: a ``LineBlock`` alone, other items in
    lists of up to ``CHUNK``, order kept."""
    group: list[RawItem | FileProblem] = []
    group_source = ""
    for source, item in items:
        if group and (source != group_source or isinstance(item, LineBlock)):
            yield group_source, group
            group = []
        if isinstance(item, LineBlock):
            yield source, item
            continue
        group_source = source
        group.append(item)
        if len(group) >= CHUNK:
            yield source, group
            group = []
    if group:
        yield group_source, group


@contextmanager
def _pool(workers: int, ctx: PrepareContext) -> Iterator[ProcessPoolExecutor]:
    with _new_pool(workers, _start, (ctx,)) as pool:
        yield pool


def _new_pool(workers: int, initializer: Any, initargs: tuple[Any, ...]) -> ProcessPoolExecutor:
    # spawn, not fork: a fork would copy the parent's open database connections and threads.
    # Spawned workers normally re-import the parent's __main__ script, which breaks (or re-runs)
    # a user's script without an `if __name__ == "__main__"` guard; the workers need nothing
    # from it, so it is hidden while they are launched: one task each, submitted at once,
    # launches them all (a pool only starts a process when no started one is idle), and a
    # process has been handed what it imports by the time ``submit`` returns. Their imports
    # then run while this process reads the first blocks.
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(
        workers, mp_context=context, initializer=initializer, initargs=initargs
    )
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        with _sigint_ignored_by_new_processes():
            for _ in range(workers):
                pool.submit(int)
    finally:
        if main is not None:
            sys.modules["__main__"] = main
    return pool


class SharedPool:
    """Preparing processes kept for many small ingests: the HTTP API's batches.

    One server process prepares a request's records (decode, validate, redact, hash: most of
    its CPU) on one core at a time, whatever the number of cores, and spreading requests over
    several server processes balances badly, because a client's keep-alive connection stays
    with one process (measured with 20 clients and two uvicorn workers: 1.7 s of CPU in one,
    0.3 s in the other). Here the server keeps reading, writing and answering, and hands each
    large enough batch to these processes, so every core prepares whichever request comes next.
    A pool per request would cost more to start than the request; this one is launched when the
    server starts (``start``), or else by the first batch that needs it, and is told each
    task's context (``received_at`` differs per request).
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def stream(self, items: Iterable[Item], ctx: PrepareContext) -> Iterator[PreparedChunk]:
        """Prepared chunks in input order, as ``prepare_stream``; in this process instead when
        the pool broke (a worker was killed) or could not start, after which a new pool is
        started for the next request."""
        from concurrent.futures import CancelledError
        from concurrent.futures.process import BrokenProcessPool  # see TYPE_CHECKING above

        work = list(payloads(items))
        pool = None
        try:
            pool = self._executor()
            futures = [pool.submit(_prepare_under, ctx, src, payload) for src, payload in work]
            try:
                results = [_decode(future.result()) for future in futures]
            finally:
                for future in futures:
                    future.cancel()
        except (BrokenProcessPool, CancelledError, OSError, RuntimeError) as exc:
            # RuntimeError: submitted to a pool being shut down; CancelledError: this request's
            # tasks were cancelled along with a broken pool by another request.
            log.warning("the preparing processes failed (%s); preparing in the server", exc)
            if pool is not None:
                self._discard(pool)
            preparer = Preparer(ctx)
            results = [preparer(source, payload) for source, payload in work]
        yield from results

    def start(self) -> None:
        """Launch the processes now (they import in the background) rather than on first use,
        so a server's first large requests do not wait for them."""
        self._executor()

    def _executor(self) -> ProcessPoolExecutor:
        # A replacement pool is made on a request's thread; ``_new_pool`` hides ``__main__``
        # from the whole process for the few milliseconds of launching, which other threads
        # do not read (a server's main module is uvicorn's or evalkit's entry point).
        with self._lock:
            if self._pool is None:
                self._pool = _new_pool(self.workers, _start_shared, (os.getpid(),))
            return self._pool

    def _discard(self, broken: ProcessPoolExecutor) -> None:
        """Forget ``broken`` (only if it is still the current pool: another request may have
        replaced it already, and that new pool's work must not be cancelled)."""
        with self._lock:
            if self._pool is not broken:
                return
            self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Stop the processes (waiting for tasks in flight)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _sigint_ignored_by_new_processes() -> Iterator[None]:
    """Ctrl-C in a terminal reaches every process of the group. The ingesting process decides
    how to stop (between batches) and shuts the pool down; a worker dying of it on its own, with
    a traceback, would only break the pool under it. A process started while SIGINT is ignored
    keeps ignoring it from its first instruction (Python installs no handler then), so the few
    milliseconds of launching are covered too; ``_start`` covers pools made off the main thread.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _start(ctx: PrepareContext) -> None:
    global _preparer
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # see _sigint_ignored_by_new_processes
    _preparer = Preparer(ctx)


def _start_shared(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # see _sigint_ignored_by_new_processes
    # A server killed outright (SIGKILL by a supervisor or the OOM killer) runs no shutdown,
    # and its pool's processes would wait for work forever: they leave once it is gone.
    threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True).start()


def _exit_when_orphaned(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _prepare_under(ctx: PrepareContext, source: str, payload: Payload) -> bytes | PreparedChunk:
    # A preparer costs microseconds to make (the redactor's patterns are compiled once).
    return _encoded(Preparer(ctx)(source, payload))


def _prepare(source: str, payload: Payload) -> bytes | PreparedChunk:
    assert _preparer is not None
    return _encoded(_preparer(source, payload))


def _encoded(chunk: PreparedChunk) -> bytes | PreparedChunk:
    try:
        return _ENCODE(chunk)
    except (OverflowError, UnicodeEncodeError):
        # MessagePack holds neither an integer beyond 64 bits (an event's metadata) nor a lone
        # surrogate (an error naming the id of a line with invalid UTF-8 in it): pickle does.
        return chunk


def _decode(result: bytes | PreparedChunk) -> PreparedChunk:
    return _DECODE(result) if isinstance(result, bytes) else result


_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder(PreparedChunk).decode
