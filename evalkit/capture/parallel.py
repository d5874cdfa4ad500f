"""Preparing items in worker processes while the main process reads and writes.

Decoding, validation, hashing and redaction are pure Python and CPU-bound; the store takes one
writer at a time. So for large inputs the main process reads lines, hands them to a pool in
chunks and writes what comes back, in input order, while the workers prepare the next chunks.
Only a bounded number of chunks is in flight, so memory stays flat however large the file.
"""

from __future__ import annotations

import multiprocessing
import sys
import types
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager

import msgspec

from evalkit.capture.prepare import PrepareContext, Prepared, Preparer
from evalkit.capture.readers import FileProblem, RawItem

Item = tuple[str, RawItem | FileProblem]

CHUNK = 256
IN_FLIGHT_PER_WORKER = 4

_preparer: Preparer | None = None


def prepare_stream(
    items: Iterable[Item], ctx: PrepareContext, *, workers: int
) -> Iterator[Prepared]:
    """Prepared items in input order; file problems pass through where they occurred."""
    if workers <= 1:
        preparer = Preparer(ctx)
        for source, item in items:
            yield _prepare_one(preparer, source, item)
        return
    with _pool(workers, ctx) as pool:
        pending: deque[Future[bytes | list[Prepared]]] = deque()
        try:
            for chunk in _chunks(items):
                pending.append(pool.submit(_prepare_chunk, chunk))
                while len(pending) >= workers * IN_FLIGHT_PER_WORKER:
                    yield from _decode(pending.popleft().result())
            while pending:
                yield from _decode(pending.popleft().result())
        finally:
            for future in pending:
                future.cancel()


@contextmanager
def _pool(workers: int, ctx: PrepareContext) -> Iterator[ProcessPoolExecutor]:
    # spawn, not fork: a fork would copy the parent's open database connections and threads.
    # Spawned workers normally re-import the parent's __main__ script, which breaks (or re-runs)
    # a user's script without an `if __name__ == "__main__"` guard; the workers need nothing
    # from it, so it is hidden while they start: one task each, submitted at once, starts them
    # all (a pool only starts a process when no started one is idle).
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start, initargs=(ctx,))
    main = sys.modules.get("__main__")
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        for started in [pool.submit(int) for _ in range(workers)]:
            started.result()
    finally:
        if main is not None:
            sys.modules["__main__"] = main
    with pool:
        yield pool


def _chunks(items: Iterable[Item]) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _start(ctx: PrepareContext) -> None:
    global _preparer
    _preparer = Preparer(ctx)


def _prepare_chunk(chunk: list[Item]) -> bytes | list[Prepared]:
    assert _preparer is not None
    prepared = [_prepare_one(_preparer, source, item) for source, item in chunk]
    try:
        return _ENCODE(prepared)
    except OverflowError:  # an integer beyond 64 bits in metadata: pickle keeps it exact
        return prepared


def _decode(result: bytes | list[Prepared]) -> list[Prepared]:
    return _DECODE(result) if isinstance(result, bytes) else result


def _prepare_one(preparer: Preparer, source: str, item: RawItem | FileProblem) -> Prepared:
    if isinstance(item, FileProblem):
        message = str(item).removeprefix(f"{source}: ")
        return Prepared(source, "file", None, file_problem=message)
    return preparer(source, item)


_ENCODE = msgspec.msgpack.Encoder().encode
_DECODE = msgspec.msgpack.Decoder(list[Prepared]).decode
