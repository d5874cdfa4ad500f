"""Recording verdicts in the background: the caller is never slowed or broken by the store.

The same guarantees as the capture SDK's ``Recorder``: ``submit`` puts a verdict on a bounded
queue and returns; one daemon thread writes batches to ``guard_verdicts`` and sends flagged
ones (``review`` / ``block``, with a response id) to the review queue through
``evalkit.sample.enqueue_flagged`` with high priority and an SLA. While the store is down the
batch is kept and retried with capped backoff; beyond ``max_queue`` waiting verdicts the oldest
are dropped and counted. A flagged response the store does not hold yet (the guard runs before
capture) is retried for a few rounds before it is counted as ``unqueued``. Nothing raises into
the caller; ``close`` flushes for at most its timeout.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from evalkit.records import utcnow

log = logging.getLogger("evalkit.guard")

#: Review SLA of a guard-flagged response (due this long after it was flagged).
FLAGGED_SLA = timedelta(hours=1)
_MISSING_ROUNDS = 10


@dataclass
class RecordingStats:
    submitted: int = 0
    written: int = 0
    enqueued: int = 0
    dropped: int = 0
    unqueued: int = 0
    store_errors: int = 0


class VerdictRecorder:
    """Background writer of verdict rows (dicts ready for ``store.classifiers.insert_verdicts``)."""

    def __init__(
        self,
        database_url: str,
        *,
        max_queue: int = 10_000,
        flush_interval: float = 0.5,
        max_batch: int = 500,
        sla: timedelta = FLAGGED_SLA,
    ) -> None:
        self.database_url = database_url
        self.max_queue = max_queue
        self.flush_interval = flush_interval
        self.max_batch = max_batch
        self.sla = sla
        self.stats = RecordingStats()
        self._queue: queue.Queue[dict[str, Any]] = queue.Queue(maxsize=max_queue)
        self._pending: deque[dict[str, Any]] = deque()
        self._missing: dict[str, tuple[int, str]] = {}
        self._db: Any = None
        self._closed = threading.Event()
        self._idle = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="evalkit-guard-recorder", daemon=True
        )
        self._thread.start()

    def submit(self, row: dict[str, Any], *, flagged_reason: str | None = None) -> None:
        """Queue one verdict row; never blocks, never raises (a full queue drops and counts)."""
        if self._closed.is_set():
            self.stats.dropped += 1
            return
        try:
            self._queue.put_nowait({**row, "_flag": flagged_reason})
            self.stats.submitted += 1
            self._idle.clear()
        except queue.Full:
            self.stats.dropped += 1

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything submitted so far is written (or ``timeout`` passes)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and not self._pending and self._idle.is_set():
                return True
            time.sleep(0.02)
        return False

    def close(self, timeout: float = 5.0) -> None:
        self.flush(timeout)
        self._closed.set()
        self._thread.join(timeout=1.0)
        if self._db is not None:
            self._db.dispose()

    def _run(self) -> None:
        backoff = self.flush_interval
        self._prepare()
        while not self._closed.is_set():
            try:
                first = self._queue.get(timeout=self.flush_interval)
                self._pending.append(first)
            except queue.Empty:
                pass
            while len(self._pending) < self.max_queue:
                try:
                    self._pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if not self._pending and not self._missing:
                self._idle.set()
                continue
            try:
                self._write()
                backoff = self.flush_interval
                if not self._pending:
                    self._idle.set()
            except Exception as exc:  # the store is down or refused: keep, retry, never die
                self.stats.store_errors += 1
                log.warning("guard verdicts not written yet (%s); retrying", exc)
                while len(self._pending) > self.max_queue:
                    self._pending.popleft()
                    self.stats.dropped += 1
                self._closed.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _prepare(self) -> None:
        """Import the store and open it now, while the service starts: done on the first
        verdict, the imports and the migration check held the GIL for about a second, and
        every check answered in that second waited for it (measured through /v1/check)."""
        try:
            import evalkit.sample
            import evalkit.store.classifiers  # noqa: F401

            self._open()
        except Exception as exc:  # the store is down: the first write retries, as always
            log.warning("guard verdict store not reachable yet (%s); will retry", exc)

    def _open(self) -> Any:
        if self._db is None:
            from evalkit.store.database import Database

            self._db = Database.open(self.database_url)
        return self._db

    def _write(self) -> None:
        from evalkit.sample import HIGH_PRIORITY, enqueue_flagged
        from evalkit.store.classifiers import insert_verdicts

        db = self._open()
        while self._pending:
            batch = [self._pending[i] for i in range(min(self.max_batch, len(self._pending)))]
            insert_verdicts(db, [{k: v for k, v in row.items() if k != "_flag"} for row in batch])
            for _ in batch:
                self._pending.popleft()
            self.stats.written += len(batch)
            for row in batch:
                if row["_flag"] and row.get("response_id"):
                    self._missing[row["response_id"]] = (0, row["_flag"])
        if not self._missing:
            return
        by_reason: dict[str, list[str]] = {}
        for rid, (_rounds, reason) in self._missing.items():
            by_reason.setdefault(reason, []).append(rid)
        for reason, ids in by_reason.items():
            result = enqueue_flagged(
                db, ids, reason=reason, priority=HIGH_PRIORITY, due_in=self.sla, now=utcnow()
            )
            missing = set(getattr(result, "missing", ()) or ())
            for rid in ids:
                rounds, _ = self._missing.pop(rid)
                if rid not in missing:
                    self.stats.enqueued += 1
                elif rounds + 1 < _MISSING_ROUNDS:
                    self._missing[rid] = (rounds + 1, reason)
                else:
                    self.stats.unqueued += 1
