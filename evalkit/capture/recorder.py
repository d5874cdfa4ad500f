"""The service-side SDK: record responses and feedback from inside a running service.

    from evalkit import Recorder

    recorder = Recorder()  # EVALKIT_* settings; Recorder(database_url=...) overrides the store
    rid = recorder.record(prompt=p, response=r, model_id="gpt-big", latency_ms=812, intent="refund")
    ...
    recorder.feedback(rid, "rating", "up")

The contract a service can rely on:

- ``record()`` and ``feedback()`` never block the request path and never raise into it: not on
  bad input, not while the database is down, not after ``close()``. They put the record on a
  bounded in-memory queue (``max_queue``) and return. When the queue is full the record is
  dropped and counted in ``stats.dropped``, with a rate-limited warning on the
  ``evalkit.recorder`` logger.
- ``record()`` returns the record's id (``id=`` if given, else a new uuid4) so feedback can be
  attached later. Both calls stamp ``created_at`` with the time of the call unless it is given,
  so a record that waits out a database outage keeps the time it happened.
- One daemon thread writes. Every ``flush_interval`` seconds, or sooner once ``max_batch``
  records are waiting, it drains the queue and stores the records through the same
  ``Ingestor`` as file ingest (validation, redaction, de-duplication), in batches of up to
  ``max_batch``, responses before the feedback that may refer to them. A record the ingestor
  turns away is counted in ``stats.rejected``, logged, and passed to ``on_error`` as a
  ``RecordError`` naming the field; ``on_error`` runs on the writer thread and anything it
  raises is swallowed. Python values JSON cannot hold in extra fields become JSON: datetimes,
  decimals and NaN as text, sets and tuples as lists.
- The database is opened (and migrated) lazily by the writer thread, so constructing a Recorder is
  instant and works while the database is down. When the store cannot be reached the batch is
  kept and retried with capped, jittered exponential backoff; at most ``max_queue`` records
  wait in this retry buffer, beyond which the oldest are dropped and counted. A record the store
  refuses outright (PostgreSQL cannot hold a NUL character) fails only itself: the batch is
  retried one record at a time and that one is rejected. The writer thread never dies from an
  exception.
- ``flush(timeout)`` waits until nothing queued before the call is still waiting to be written.
  ``close(timeout)`` flushes for at most ``timeout`` seconds and stops the thread; it is
  idempotent, runs at interpreter exit (``atexit``), and the Recorder is a context manager.
  Records after close are dropped and counted, as are records still unwritten when close's
  timeout runs out.
- Thread-safe: any number of request threads may call ``record()`` at once. In a child made by
  ``os.fork`` (gunicorn ``--preload``) the Recorder starts over with an empty queue, fresh
  stats and its own writer thread; what the parent had queued is the parent's to write.
- Delivery is at-least-once and idempotent: a retried batch may meet records a failed attempt
  did commit, and their ids make them duplicates, never second rows.

Records are lost only when the process dies without running exit hooks (SIGKILL, ``os._exit``)
or when one of the counted drops above happens.
"""

from __future__ import annotations

import atexit
import itertools
import os
import queue
import random
import threading
import time
import uuid
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.capture.recorder_support import (
    Kind,
    Throttle,
    first_line,
    for_caller,
    is_transient,
    log,
)
from evalkit.capture.sdk_values import json_safe_extras
from evalkit.capture.validate import FEEDBACK_FIELDS, RESPONSE_FIELDS
from evalkit.errors import UsageError
from evalkit.records import RecordError, utcnow
from evalkit.settings import Settings
from evalkit.store.database import Database

KINDS: tuple[Kind, ...] = ("responses", "feedback")  # write order: feedback needs its response
OnError = Callable[[RecordError], object]

#: Retry delay after a failed write: starts here, doubles, stops growing at the cap. Each wait is
#: jittered down by up to half so a fleet of services does not reconnect in lockstep.
BACKOFF_START = 0.1
BACKOFF_CAP = 30.0

_KNOWN_FIELDS: dict[Kind, frozenset[str]] = {
    "responses": RESPONSE_FIELDS - {"metadata"},
    "feedback": FEEDBACK_FIELDS - {"metadata"},
}


@dataclass
class RecorderStats:
    """A snapshot of what a Recorder has done since it was created (or forked)."""

    queued: int = 0  #: accepted onto the queue by record() / feedback()
    written: int = 0  #: stored
    duplicates: int = 0  #: already stored with the same content (a retried batch, a repeat)
    rejected: int = 0  #: turned away by validation or the store; logged and given to on_error
    dropped: int = 0  #: lost: queue or retry buffer full, after close, close timed out
    write_failures: int = 0  #: failed attempts to open or write the store
    last_error: str | None = None  #: the latest of those failures


class Recorder:
    """Buffers records in memory and writes them from a background thread (module docstring)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        database_url: str | None = None,
        flush_interval: float = 1.0,
        max_batch: int = 500,
        max_queue: int = 10_000,
        on_error: OnError | None = None,
    ) -> None:
        if not flush_interval > 0:
            raise UsageError(
                f"flush_interval must be a positive number of seconds, got {flush_interval!r}"
            )
        if max_batch < 1 or max_queue < 1:
            raise UsageError(
                f"max_batch and max_queue must be at least 1, got {max_batch}, {max_queue}"
            )
        self.settings = settings if settings is not None else Settings()
        # Resolved here, not through a settings copy: a copy keeps a cached resolved URL.
        self.database_url = database_url or self.settings.resolved_database_url
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.on_error = on_error
        # Each ingest call must be one transaction, so a failed write leaves nothing half-stored.
        self._chunk = min(max_batch, self.settings.batch_size)
        self._wake_at = min(max_batch, max_queue)
        self._closed = False
        self._start_over()
        _LIVE.add(self)

    def _start_over(self) -> None:
        """Fresh queue, locks, stats and writer state (at creation and in a forked child)."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: queue.Queue[tuple[Kind, dict[str, Any]]] = queue.Queue(self.max_queue)
        self._wake = threading.Event()
        self._stats = RecorderStats()
        self._warn = Throttle()
        self._thread: threading.Thread | None = None
        self._writer_done = False
        self._exited_clean = True
        self._abandon = False
        self._flush_asked = 0
        self._flush_done = 0
        # Writer-thread state: the retry buffer (records taken off the queue, not yet resolved),
        # in arrival order, each with a sequence number so overflow can drop the oldest.
        self._buffers: dict[Kind, deque[tuple[int, dict[str, Any]]]] = {k: deque() for k in KINDS}
        self._seq = 0
        self._db: Database | None = None
        self._ingestors: dict[Kind, Ingestor] = {}

    # -- the request path: never blocks, never raises -----------------------------------------

    def record(
        self,
        prompt: Any = None,
        response: Any = None,
        model_id: Any = None,
        latency_ms: Any = None,
        **fields: Any,
    ) -> str:
        """Queue one response; returns its id. Any field of the ingest format is accepted, and
        unknown ones are kept in ``metadata``."""
        rid: Any = ""
        try:
            rid = fields.get("id")
            if rid is None or rid == "":
                rid = str(uuid.uuid4())
            raw = {
                **fields,
                "id": rid,
                "prompt": prompt,
                "response": response,
                "model_id": model_id,
                "latency_ms": latency_ms,
            }
            if raw.get("created_at") is None:
                raw["created_at"] = utcnow()
            self._put("responses", raw)
            return rid if isinstance(rid, str) else str(rid)
        except Exception:  # the request path must never see an error of ours
            self._dropped_by_bug()
            return rid if isinstance(rid, str) else ""

    def feedback(self, response_id: Any, kind: Any, value: Any, **fields: Any) -> None:
        """Queue a late event about a response; ``kind``: outcome, rating, correction, comment."""
        try:
            raw = {**fields, "response_id": response_id, "kind": kind, "value": value}
            if raw.get("created_at") is None:
                raw["created_at"] = utcnow()
            self._put("feedback", raw)
        except Exception:
            self._dropped_by_bug()

    def _put(self, kind: Kind, raw: dict[str, Any]) -> None:
        with self._lock:
            if self._closed:
                trouble: str | None = "closed"
            else:
                try:
                    self._queue.put_nowait((kind, raw))
                    trouble = None
                except queue.Full:
                    trouble = "full"
            if trouble is not None:
                self._stats.dropped += 1
            else:
                self._stats.queued += 1
                if self._thread is None or not self._thread.is_alive():
                    self._start_writer()
        if trouble == "full":
            self._warn(
                "full",
                "evalkit recorder: the queue is full (%d records), dropping records; "
                "is the store reachable? (see stats.last_error)",
                self.max_queue,
            )
        elif trouble == "closed":
            self._warn("closed", "evalkit recorder: record after close() dropped")
        elif self._queue.qsize() >= self._wake_at and not self._wake.is_set():
            self._wake.set()

    def _start_writer(self) -> None:
        # Lazily, and again if the thread is gone (a forked child has none).
        thread = threading.Thread(target=self._run, name="evalkit-recorder", daemon=True)
        self._writer_done = False
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down: the record waits in the queue
            return
        self._thread = thread

    def _dropped_by_bug(self) -> None:
        try:
            with self._lock:
                self._stats.dropped += 1
            self._warn("bug", "evalkit recorder: could not queue a record", exc_info=True)
        except Exception:
            pass

    # -- control ------------------------------------------------------------------------------

    @property
    def stats(self) -> RecorderStats:
        with self._lock:
            return replace(self._stats)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until nothing queued before this call is still waiting to be written.

        True when none of them is still waiting: each was stored, found already stored, rejected
        or (retry buffer overflow) dropped; ``stats`` tells which. False when ``timeout`` seconds
        pass first, e.g. while the store is down, or when close() gave up on records.
        """
        if threading.current_thread() is self._thread:
            return False  # from on_error: the writer cannot wait for itself
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flush_asked += 1
            ticket = self._flush_asked
            while self._flush_done < ticket:
                if self._thread is None or self._writer_done:
                    return self._queue.empty() and self._exited_clean
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._wake.set()
                self._cond.wait(remaining)
            return True

    def close(self, timeout: float | None = 5.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds) and stop the writer thread.

        Idempotent. Records still unwritten when the timeout runs out are dropped and counted.
        """
        with self._lock:
            self._closed = True
            thread, abandoned = self._thread, self._abandon
        if thread is None or abandoned or thread is threading.current_thread():
            return
        self._wake.set()
        thread.join(timeout)
        if thread.is_alive():
            with self._lock:
                self._abandon = True
            self._wake.set()
            log.warning(
                "evalkit recorder: closed after %s s with records unwritten (%s); they are dropped",
                timeout,
                self._stats.last_error or "the store is slow",
            )

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        delay = 0.0  # current backoff; 0 while the store is healthy
        retry_at = 0.0
        attempted: tuple[int, bool] = (0, False)  # (flush ticket, closing) at the last attempt
        lost = False
        try:
            while True:
                self._wake.wait(
                    max(0.0, retry_at - time.monotonic()) if delay else self.flush_interval
                )
                self._wake.clear()
                with self._lock:
                    closing, abandon, ticket = self._closed, self._abandon, self._flush_asked
                try:
                    self._drain()
                    if abandon:
                        lost = self._drop_pending() > 0
                        return
                    urgent = (ticket, closing) != attempted
                    if delay and not urgent and time.monotonic() < retry_at:
                        continue  # woken by a full queue while backing off: buffered, keep waiting
                    attempted = (ticket, closing)
                    written = self._write_all()
                except Exception as exc:  # a bug of ours must not stop recording
                    self._warn("bug", "evalkit recorder: writer error", exc_info=True)
                    self._note_failure(exc)
                    written = False
                if not written:
                    delay = min(BACKOFF_CAP, delay * 2 or BACKOFF_START)
                    retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)
                    continue
                delay = 0.0
                with self._cond:
                    self._flush_done = max(self._flush_done, ticket)
                    self._cond.notify_all()
                if closing:  # everything queued before close() was drained and written
                    return
                if self._queue.qsize() >= self._wake_at:
                    self._wake.set()
        finally:
            if self._db is not None:
                self._db.dispose()
                self._db, self._ingestors = None, {}
            with self._cond:
                self._writer_done = True
                self._exited_clean = not lost and not self._pending()
                self._cond.notify_all()

    def _pending(self) -> int:
        return self._queue.qsize() + sum(len(b) for b in self._buffers.values())

    def _drain(self) -> None:
        """Move what is queued now into the retry buffer, dropping the oldest beyond max_queue."""
        for _ in range(self._queue.qsize()):
            try:
                kind, raw = self._queue.get_nowait()
            except queue.Empty:
                break
            self._seq += 1
            self._buffers[kind].append((self._seq, raw))
        responses, feedback = self._buffers["responses"], self._buffers["feedback"]
        overflow = len(responses) + len(feedback) - self.max_queue
        if overflow <= 0:
            return
        for _ in range(overflow):
            older = (
                responses
                if not feedback or (responses and responses[0][0] < feedback[0][0])
                else feedback
            )
            older.popleft()
        with self._lock:
            self._stats.dropped += overflow
        self._warn(
            "overflow",
            "evalkit recorder: the store has been unreachable long enough to fill "
            "the retry buffer (%d records); dropping the oldest",
            self.max_queue,
        )

    def _drop_pending(self) -> int:
        lost = sum(len(b) for b in self._buffers.values())
        for buffer in self._buffers.values():
            buffer.clear()
        with self._lock:
            self._stats.dropped += lost
        return lost

    def _write_all(self) -> bool:
        """Write the retry buffer; False (buffer kept) when the store failed."""
        if not any(self._buffers.values()):
            return True
        if self._db is None:
            try:
                self._open()
            except Exception as exc:  # down, unreachable, misconfigured: all worth retrying
                self._note_failure(exc)
                return False
        try:
            for kind in KINDS:
                buffer = self._buffers[kind]
                while buffer:
                    self._store(kind, buffer, min(len(buffer), self._chunk))
        except Exception as exc:
            if not is_transient(exc):
                raise
            self._note_failure(exc)
            return False
        return True

    def _open(self) -> None:
        db = Database.open(self.database_url)
        self._db = db
        self._ingestors = {
            kind: Ingestor(db, self.settings, IngestOptions(kind=kind)) for kind in KINDS
        }

    def _store(self, kind: Kind, buffer: deque[tuple[int, dict[str, Any]]], n: int) -> None:
        """Store the first ``n`` buffered records and remove them; raises if the store failed."""
        raws = [raw for _, raw in itertools.islice(buffer, n)]
        try:
            report = self._ingestors[kind].ingest_records(
                [json_safe_extras(raw, _KNOWN_FIELDS[kind]) for raw in raws], source="sdk"
            )
        except Exception as exc:
            if is_transient(exc):
                raise
            if n > 1:  # the store refused something in the batch: find it, store the rest
                for _ in range(n):
                    self._store(kind, buffer, 1)
                return
            error = RecordError(
                "sdk", "record 1", None, f"the store refused the record: {first_line(exc)}"
            )
            self._account(kind, raws, 0, 0, [error])
        else:
            self._account(kind, raws, report.stored, report.duplicates, report.errors)
        for _ in range(n):
            buffer.popleft()

    def _account(
        self,
        kind: Kind,
        raws: list[dict[str, Any]],
        stored: int,
        duplicates: int,
        errors: list[RecordError],
    ) -> None:
        errors = [for_caller(err, kind, raws) for err in errors]
        with self._lock:
            self._stats.written += stored
            self._stats.duplicates += duplicates
            self._stats.rejected += len(errors)
        for err in errors:
            self._warn("rejected", "evalkit recorder: record rejected: %s", err)
            if self.on_error is not None:
                try:
                    self.on_error(err)
                except Exception:
                    self._warn("on_error", "evalkit recorder: on_error raised", exc_info=True)

    def _note_failure(self, exc: BaseException) -> None:
        message = first_line(exc)
        with self._lock:
            self._stats.write_failures += 1
            self._stats.last_error = message
        self._warn(
            "store",
            "evalkit recorder: cannot write to the store, will retry (%d records waiting): %s",
            sum(len(b) for b in self._buffers.values()),
            message,
        )


# Every live Recorder, weakly: closed at interpreter exit, started over in a forked child.
_LIVE: weakref.WeakSet[Recorder] = weakref.WeakSet()


def _close_all() -> None:
    for recorder in list(_LIVE):
        try:
            recorder.close()
        except Exception:
            log.warning("evalkit recorder: close at exit failed", exc_info=True)


def _after_fork_in_child() -> None:
    for recorder in list(_LIVE):
        if recorder._db is not None:
            # The parent's pooled connections are not ours to close (SQLAlchemy's fork advice).
            recorder._db.engine.dispose(close=False)
        recorder._start_over()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
