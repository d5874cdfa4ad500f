"""Getting the records the writer thread holds into the store, and accounting for each one.

The records taken off the queue wait in a retry buffer until each is resolved: stored, found
already stored, rejected or dropped. Writes go through the same ``Ingestor`` as file ingest,
one transaction per chunk, so a failed write leaves nothing half-stored and a retry is safe. A
store outage keeps the buffer for the next attempt; a record the store refuses outright fails
only itself. Only the writer thread uses a ``Delivery``.
"""

from __future__ import annotations

import itertools
import queue
from collections import deque
from typing import TYPE_CHECKING, Any

from evalkit.capture.recorder.state import RecorderConfig, SharedState
from evalkit.capture.recorder.support import Kind, first_line, for_caller, is_transient
from evalkit.capture.recorder.values import json_safe_extras
from evalkit.capture.validate import FEEDBACK_FIELDS, RESPONSE_FIELDS
from evalkit.records import RecordError

if TYPE_CHECKING:
    from evalkit.capture.ingest import Ingestor
    from evalkit.store.database import Database

KINDS: tuple[Kind, ...] = ("responses", "feedback")  # write order: feedback needs its response

_KNOWN_FIELDS: dict[Kind, frozenset[str]] = {
    "responses": RESPONSE_FIELDS - {"metadata"},
    "feedback": FEEDBACK_FIELDS - {"metadata"},
}


class Delivery:
    """The retry buffer and the store connection of one Recorder's writer thread."""

    def __init__(self, shared: SharedState, config: RecorderConfig, *, chunk: int) -> None:
        self._shared = shared
        self._config = config
        self._chunk = chunk  # records per ingest call, i.e. per transaction
        # The retry buffer (records taken off the queue, not yet resolved), in arrival order,
        # each with a sequence number so overflow can drop the oldest.
        self._buffers: dict[Kind, deque[tuple[int, dict[str, Any]]]] = {k: deque() for k in KINDS}
        self._seq = 0
        # The store is opened (and migrated) on first write, so a Recorder starts while it is down.
        self._db: Database | None = None
        self._ingestors: dict[Kind, Ingestor] = {}

    def pending(self) -> int:
        """Records in the retry buffer."""
        return sum(len(b) for b in self._buffers.values())

    def drain(self) -> None:
        """Move what is queued now into the retry buffer, dropping the oldest beyond max_queue."""
        shared, max_queue = self._shared, self._config.max_queue
        for _ in range(shared.queue.qsize()):
            try:
                kind, raw = shared.queue.get_nowait()
            except queue.Empty:
                break
            self._seq += 1
            self._buffers[kind].append((self._seq, raw))
        responses, feedback = self._buffers["responses"], self._buffers["feedback"]
        overflow = len(responses) + len(feedback) - max_queue
        if overflow <= 0:
            return
        for _ in range(overflow):
            older = (
                responses
                if not feedback or (responses and responses[0][0] < feedback[0][0])
                else feedback
            )
            older.popleft()
        with shared.lock:
            shared.stats.dropped += overflow
        shared.warn(
            "overflow",
            "evalkit recorder: the store has been unreachable long enough to fill "
            "the retry buffer (%d records); dropping the oldest",
            max_queue,
        )

    def drop_all(self) -> int:
        """Empty the retry buffer, counting its records as dropped; returns how many."""
        lost = self.pending()
        for buffer in self._buffers.values():
            buffer.clear()
        with self._shared.lock:
            self._shared.stats.dropped += lost
        return lost

    def write_all(self) -> bool:
        """Write the retry buffer; False (buffer kept) when the store failed."""
        if not any(self._buffers.values()):
            return True
        if self._db is None:
            try:
                self._open()
            except Exception as exc:  # down, unreachable, misconfigured: all worth retrying
                self.note_failure(exc)
                return False
        try:
            for kind in KINDS:
                buffer = self._buffers[kind]
                while buffer:
                    self._store(kind, buffer, min(len(buffer), self._chunk))
        except Exception as exc:
            if not is_transient(exc):
                raise
            self.note_failure(exc)
            return False
        return True

    def note_failure(self, exc: BaseException) -> None:
        """Count a failed attempt to open or write the store, and warn (rate-limited)."""
        message = first_line(exc)
        with self._shared.lock:
            self._shared.stats.write_failures += 1
            self._shared.stats.last_error = message
        self._shared.warn(
            "store",
            "evalkit recorder: cannot write to the store, will retry (%d records waiting): %s",
            self.pending(),
            message,
        )

    def close(self) -> None:
        """Close the store's connections; the next write would open it again."""
        if self._db is not None:
            self._db.dispose()
            self._db, self._ingestors = None, {}

    def release_after_fork(self) -> None:
        """In a forked child: let go of the parent's pooled connections without closing them,
        which are not ours to close (SQLAlchemy's fork advice)."""
        if self._db is not None:
            self._db.engine.dispose(close=False)

    def _open(self) -> None:
        # Imported here, on the writer thread's first write: the store (SQLAlchemy, Alembic) and
        # the ingest pipeline are most of what the SDK costs to import.
        from evalkit.capture.ingest import IngestOptions, Ingestor
        from evalkit.store.database import Database

        db = Database.open(self._config.database_url)
        self._db = db
        self._ingestors = {
            kind: Ingestor(db, self._config.settings, IngestOptions(kind=kind)) for kind in KINDS
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
        shared = self._shared
        errors = [for_caller(err, kind, raws) for err in errors]
        with shared.lock:
            shared.stats.written += stored
            shared.stats.duplicates += duplicates
            shared.stats.rejected += len(errors)
        for err in errors:
            shared.warn("rejected", "evalkit recorder: record rejected: %s", err)
            on_error = self._config.on_error
            if on_error is not None:
                try:
                    on_error(err)
                except Exception:
                    shared.warn("on_error", "evalkit recorder: on_error raised", exc_info=True)
