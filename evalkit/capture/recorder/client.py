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

Importing the SDK is cheap (a service pays it at every start): the store, its migrations and
the ingest pipeline are imported on a background thread once a Recorder is made, and the
settings when a Recorder is made without them; ``tests/capture/test_import_cost.py`` keeps it so.

Records are lost only when the process dies without running exit hooks (SIGKILL, ``os._exit``)
or when one of the counted drops above happens.

Where it is built: this module is the request path (``record``, ``feedback``, ``flush``,
``close``) and the process hooks (exit, fork); ``writer`` is the writer thread's loop
and backoff; ``delivery`` holds the retry buffer and writes to the store;
``state`` is what the two sides share.
"""

from __future__ import annotations

import atexit
import os
import queue
import threading
import time
import uuid
import weakref
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from evalkit.capture.recorder.delivery import Delivery
from evalkit.capture.recorder.state import OnError, RecorderStats, SharedState
from evalkit.capture.recorder.support import Kind, log
from evalkit.capture.recorder.writer import run_writer
from evalkit.errors import UsageError
from evalkit.records import utcnow

if TYPE_CHECKING:
    from evalkit.settings import Settings

#: How long close() waits, after its timeout, for the writer to drop and count what is left.
ABANDON_GRACE = 0.5


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
        if settings is None:
            from evalkit.settings import load_settings

            settings = load_settings()
        self.settings = settings
        # Resolved here, not through a settings copy: a copy keeps a cached resolved URL.
        self.database_url = database_url or self.settings.resolved_database_url
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.max_queue = max_queue
        self.on_error = on_error
        # Each ingest call must be one transaction, so a failed write leaves nothing half-stored.
        self._chunk = min(max_batch, self.settings.batch_size)
        self._wake_at = min(max_batch, max_queue)
        self._start_over(closed=False)
        _LIVE.add(self)
        _import_the_store_soon()

    def _start_over(self, *, closed: bool) -> None:
        """Fresh queue, locks, stats and writer state (at creation and in a forked child)."""
        self._shared = SharedState(self.max_queue, closed=closed)
        self._delivery = Delivery(self._shared, self, chunk=self._chunk)
        self._thread: threading.Thread | None = None

    def _after_fork(self) -> None:
        """In a forked child: what the parent had queued is the parent's to write."""
        self._delivery.release_after_fork()
        self._start_over(closed=self._shared.closed)

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
        shared = self._shared
        with shared.lock:
            if shared.closed:
                trouble: str | None = "closed"
            else:
                try:
                    shared.queue.put_nowait((kind, raw))
                    trouble = None
                except queue.Full:
                    trouble = "full"
            if trouble is not None:
                shared.stats.dropped += 1
            else:
                shared.stats.queued += 1
                if self._thread is None or not self._thread.is_alive():
                    self._start_writer()
        if trouble == "full":
            shared.warn(
                "full",
                "evalkit recorder: the queue is full (%d records), dropping records; "
                "is the store reachable? (see stats.last_error)",
                self.max_queue,
            )
        elif trouble == "closed":
            shared.warn("closed", "evalkit recorder: record after close() dropped")
        elif shared.queue.qsize() >= self._wake_at and not shared.wake.is_set():
            shared.wake.set()

    def _start_writer(self) -> None:
        # Lazily, and again if the thread is gone (a forked child has none).
        thread = threading.Thread(
            target=run_writer,
            args=(self._shared, self._delivery, self),
            kwargs={"wake_at": self._wake_at},
            name="evalkit-recorder",
            daemon=True,
        )
        self._shared.writer_done = False
        try:
            thread.start()
        except RuntimeError:  # interpreter shutting down: the record waits in the queue
            return
        self._thread = thread

    def _dropped_by_bug(self) -> None:
        try:
            with self._shared.lock:
                self._shared.stats.dropped += 1
            self._shared.warn("bug", "evalkit recorder: could not queue a record", exc_info=True)
        except Exception:
            pass

    # -- control ------------------------------------------------------------------------------

    @property
    def stats(self) -> RecorderStats:
        with self._shared.lock:
            return replace(self._shared.stats)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until nothing queued before this call is still waiting to be written.

        True when none of them is still waiting: each was stored, found already stored, rejected
        or (retry buffer overflow) dropped; ``stats`` tells which. False when ``timeout`` seconds
        pass first, e.g. while the store is down, or when close() gave up on records.
        """
        if threading.current_thread() is self._thread:
            return False  # from on_error: the writer cannot wait for itself
        shared = self._shared
        deadline = None if timeout is None else time.monotonic() + timeout
        with shared.cond:
            shared.flush_asked += 1
            ticket = shared.flush_asked
            while shared.flush_done < ticket:
                if self._thread is None or shared.writer_done:
                    return shared.queue.empty() and shared.exited_clean
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                shared.wake.set()
                shared.cond.wait(remaining)
            return True

    def close(self, timeout: float | None = 5.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds) and stop the writer thread.

        The timeout starts once the store's modules are imported (a Recorder imports them in
        the background when it is made; see ``IMPORT_WAIT``).
        Idempotent. Records still unwritten when the timeout runs out are dropped and counted in
        ``stats.dropped`` before this returns (it waits up to ``ABANDON_GRACE`` more for that),
        unless the writer is stuck inside a call to an unresponsive store: those records are
        counted when the call gives up.
        """
        shared = self._shared
        with shared.lock:
            shared.closed = True
            thread, abandoned = self._thread, shared.abandon
        if thread is None or abandoned or thread is threading.current_thread():
            return
        _wait_for_the_store_import()
        shared.wake.set()
        thread.join(timeout)
        if thread.is_alive():
            with shared.lock:
                shared.abandon = True
            shared.wake.set()
            # A writer waiting between attempts drops and counts at once: wait for that, so the
            # stats a caller reads next are final. One stuck in a store call cannot be waited for.
            thread.join(ABANDON_GRACE)
            stuck = thread.is_alive()
            log.warning(
                "evalkit recorder: closed after %s s with records unwritten (%s); %s",
                timeout,
                shared.stats.last_error or "the store is slow",
                "they are dropped (the writer is stuck in a store call and counts them when it "
                "returns)"
                if stuck
                else f"{shared.stats.dropped} dropped in all",
            )

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _import_the_store_soon() -> None:
    """Import what the writer thread writes with (the store, the ingest pipeline) on a thread of
    its own, now: ``import evalkit`` stays cheap and ``Recorder()`` returns at once, yet the
    first write, which may be the exit hook's, does not start with a second of imports."""

    def load() -> None:
        try:
            import evalkit.capture.ingest
            import evalkit.store.database  # noqa: F401
        except Exception:  # the writer imports them again and reports what is wrong
            pass

    global _importer
    with _IMPORT_LOCK:
        if _importer is None:
            _importer = threading.Thread(target=load, name="evalkit-recorder-import", daemon=True)
            _importer.start()


def _wait_for_the_store_import() -> None:
    """Until the background import is done (at most ``IMPORT_WAIT`` s): ``close(timeout)``
    gives its timeout to writing, not to importing the modules that write."""
    importer = _importer
    if importer is not None and importer is not threading.current_thread():
        importer.join(IMPORT_WAIT)


#: The longest close() waits for the store's modules to finish importing (a busy machine).
IMPORT_WAIT = 60.0
_IMPORT_LOCK = threading.Lock()
_importer: threading.Thread | None = None

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
        recorder._after_fork()


atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
