"""The ingest pipeline: read → map → validate → redact → de-duplicate → store in batches.

Files, HTTP requests and the SDK all come through ``Ingestor``, so every entry point has the same
rules and the same error messages. Each batch is one transaction: an interrupted ingest leaves
whole batches behind and re-running it stores only what is missing. With ``strict`` the whole
run is one transaction that is rolled back if any record is turned away.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from evalkit.capture.batch import (
    PendingBatch,
    nothing_stored,
    restore_counts,
    snapshot_counts,
)
from evalkit.capture.parallel import SharedPool, prepare_stream
from evalkit.capture.prepare import Kind, PrepareContext
from evalkit.capture.readers import FileProblem, LineBlock, RawItem, Reader, detect_format
from evalkit.capture.validate import Limits
from evalkit.errors import IngestInterrupted, UsageError
from evalkit.records import (
    IngestReport,
    RecordError,
    utcnow,
)
from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.store.reports import record_ingest_run
from evalkit.store.writer import Writer, WriteResult

REQUIRED: dict[str, tuple[str, ...]] = {
    "responses": ("response",),
    "feedback": ("response_id", "kind", "value"),
    "labelled": ("response", "labels"),
}
#: Inputs at least this large are prepared in worker processes (see ``capture.parallel``).
PARALLEL_FROM_BYTES = 16 * 1024 * 1024
#: progress(file label, units done, units total)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class IngestOptions:
    kind: Kind = "responses"
    fmt: str | None = None
    #: target field -> source column (dotted paths reach into nested JSON objects)
    mapping: Mapping[str, str] = field(default_factory=dict)
    strict: bool = False
    #: who the labels of a labelled import are attributed to
    label_source: str | None = None


class _StrictRollback(Exception):
    pass


def _raw_item(i: int, raw: Mapping[str, Any] | bytes) -> RawItem:
    location = f"record {i + 1}"
    if isinstance(raw, bytes):
        return RawItem(location, None, index=i, raw=raw)
    if isinstance(raw, Mapping):
        return RawItem(location, dict(raw), index=i)
    return RawItem(location, None, "expected an object", index=i)


class Ingestor:
    """Validates, redacts and stores raw records of one kind."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        options: IngestOptions | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
        stop: threading.Event | None = None,
        shared: SharedPool | None = None,
    ) -> None:
        """``stop``, once set, ends the ingest between batches as an interrupt does (the CLI
        sets it on Ctrl-C and SIGTERM): the batches written so far stay, ``IngestInterrupted``
        is raised with the report, and no write is cut off half-way."""
        self.db = db
        self.settings = settings
        self.options = options or IngestOptions()
        if self.options.kind == "labelled" and not self.options.label_source:
            raise UsageError("a labelled import needs a source name (--source NAME)")
        self.clock = clock
        self.stop = stop
        #: prepare in this long-lived pool of processes (the HTTP API's), not in this one
        self.shared = shared
        self.limits = Limits(max_field_chars=settings.max_field_chars)

    # -- entry points ------------------------------------------------------------------------

    def ingest_files(self, paths: Sequence[Path], progress: Progress | None = None) -> IngestReport:
        """Ingest every file; a file that cannot be read is reported and the others go on."""
        paths = [Path(p) for p in paths]
        workers = self._workers(paths)
        # Usage errors (missing file, unknown format) before anything is stored:
        readers = [self._reader(p) for p in paths]
        items = self._file_items(readers, progress)
        source = ", ".join(str(p) for p in paths)
        return self._run(items, source, audit=True, workers=workers)

    def _workers(self, paths: Sequence[Path]) -> int:
        """Worker processes for preparing records: worth their start-up on large inputs only."""
        if self.settings.ingest_workers:
            return self.settings.ingest_workers
        size = sum(p.stat().st_size for p in paths if p.is_file())
        if size < PARALLEL_FROM_BYTES:
            return 1
        return max(1, min(os.cpu_count() or 1, 4))

    def ingest_records(
        self,
        raws: Iterable[Mapping[str, Any] | bytes],
        source: str = "request",
        *,
        audit: bool = False,
    ) -> IngestReport:
        """Ingest in-memory records (HTTP body, SDK buffer); locations are ``record N`` (1-based).

        A record is a mapping, or the JSON text of one object as bytes (an HTTP body's records,
        cut out undecoded): those take the one-pass decoder file ingest uses for JSONL lines,
        rather than being decoded to dicts and validated field by field.
        ``audit`` writes an ``ingest_runs`` row; off by default because the SDK flushes often.
        """
        items = ((source, _raw_item(i, raw)) for i, raw in enumerate(raws))
        return self._run(items, source, audit=audit, collect_ids=True)

    # -- pipeline ----------------------------------------------------------------------------

    def _reader(self, path: Path) -> Reader:
        return Reader(
            path,
            detect_format(path, self.options.fmt),
            max_record_bytes=self.settings.max_record_bytes,
        )

    def _file_items(
        self, readers: Sequence[Reader], progress: Progress | None
    ) -> Iterator[tuple[str, RawItem | LineBlock | FileProblem]]:
        for reader in readers:
            name = str(reader.path)
            seen = False
            try:
                for item in reader:
                    if not seen:
                        if isinstance(item, LineBlock) and item.blank:
                            continue
                        self._check_columns(reader)
                        seen = True
                    if progress is not None:
                        progress(name, item.progress, reader.total)
                    yield name, item
            except FileProblem as problem:
                yield name, problem
                continue
            if not seen:
                yield name, FileProblem(f"{name}: the file has no records")

    def _check_columns(self, reader: Reader) -> None:
        if reader.columns is None:
            return
        present = set(reader.columns) | set(self.options.mapping)
        missing = [c for c in REQUIRED[self.options.kind] if c not in present]
        if missing:
            raise FileProblem(
                f"{reader.path}: line 1: the header has no column "
                f"{', '.join(repr(m) for m in missing)}"
                f" (columns: {', '.join(reader.columns)}); name it with --map FIELD=COLUMN"
            )

    def _run(
        self,
        items: Iterable[tuple[str, RawItem | LineBlock | FileProblem]],
        source: str,
        *,
        audit: bool,
        collect_ids: bool = False,
        workers: int = 1,
    ) -> IngestReport:
        started = self.clock()
        report = IngestReport()
        stored_keys: list[tuple[tuple[str, str], int | None]] = []  # (id, hash), input index
        turned_away: list[tuple[str, str]] = []  # conflicts and unknown references

        def flush(writer: Writer, batch: PendingBatch) -> None:
            if collect_ids:
                stored_keys.extend(
                    zip(batch.keys(), (index for _, _, index in batch.places), strict=True)
                )
            self._flush(writer, batch, report, turned_away)

        try:
            if self.options.strict:
                with self.db.writer() as writer:
                    self._consume(
                        items, report, lambda batch: flush(writer, batch), workers, started
                    )
                    if report.errors:
                        raise _StrictRollback
            else:

                def flush_one(batch: PendingBatch) -> None:
                    # The batch is counted as it is written, before its commit: if the commit
                    # never happens (Ctrl-C during it, a failing store), undo its counts so
                    # the report and the audit row say only what is stored.
                    before = snapshot_counts(report)
                    try:
                        with self.db.writer() as writer:
                            flush(writer, batch)
                    except BaseException:
                        restore_counts(report, before)
                        raise

                self._consume(items, report, flush_one, workers, started)
        except _StrictRollback:
            report.rolled_back = True
            nothing_stored(report)
        except KeyboardInterrupt:
            # Complete batches stay stored (each was its own transaction; under --strict the
            # one transaction rolled back). Leave an audit row saying so, then stop.
            report.interrupted = True
            if self.options.strict:
                nothing_stored(report)
            if audit:
                self._audit(source, started, report)
            raise IngestInterrupted(report) from None
        if collect_ids:
            report.ids = [None] * report.read
            if not report.rolled_back:
                rejected = set(turned_away)
                for key, index in stored_keys:
                    if index is not None and key not in rejected:
                        report.ids[index] = key[0]
        if audit:
            self._audit(source, started, report)
        return report

    def _audit(self, source: str, started: datetime, report: IngestReport) -> None:
        record_ingest_run(
            self.db,
            source=source,
            kind=self.options.kind,
            started_at=started,
            finished_at=self.clock(),
            report=report,
        )

    def _consume(
        self,
        items: Iterable[tuple[str, RawItem | LineBlock | FileProblem]],
        report: IngestReport,
        flush: Callable[[PendingBatch], None],
        workers: int,
        received_at: datetime,
    ) -> None:
        ctx = PrepareContext(
            kind=self.options.kind,
            limits=self.limits,
            received_at=received_at,
            max_record_bytes=self.settings.max_record_bytes,
            mapping=dict(self.options.mapping),
            redact_kinds=self.settings.redact_kinds if self.settings.redact_enabled else None,
            label_source=self.options.label_source,
        )
        pending = PendingBatch()
        batch_size = self.settings.batch_size
        stop = self.stop
        for chunk in prepare_stream(items, ctx, workers=workers, shared=self.shared):
            if stop is not None and stop.is_set():
                raise KeyboardInterrupt  # asked to stop: here, between two writes
            report.read += chunk.read
            report.invalid += len(chunk.errors)
            report.errors += chunk.errors
            pending.add(chunk)
            while len(pending) >= batch_size:
                flush(pending.take(batch_size))
        if len(pending):
            flush(pending)

    def _flush(
        self,
        writer: Writer,
        pending: PendingBatch,
        report: IngestReport,
        turned_away: list[tuple[str, str]],
    ) -> None:
        if self.options.kind == "feedback":
            result = writer.add_feedback(pending.events, pending.event_hashes)
            self._account(result, pending, report, "feedback event", turned_away)
            return
        labelled = self.options.kind == "labelled"
        # Third-party datasets reuse ids for different records: keep both (see add_response_rows).
        result = writer.add_response_rows(pending.rows, rekey_conflicts=labelled)
        self._account(result, pending, report, "response", turned_away)
        stored = set(result.stored)  # a re-import finds its re-keyed records already there
        report.rekeyed += sum(new in stored for new in result.rekeyed.values())
        if labelled:
            unsettled = {rid for rid, _ in result.conflicts}
            labels = []
            for (rid, digest), record_labels in zip(pending.keys(), pending.labels, strict=True):
                moved = result.rekeyed.get((rid, digest))
                if moved is not None:
                    labels += [
                        msgspec.structs.replace(label, response_id=moved) for label in record_labels
                    ]
                elif rid not in unsettled:
                    labels += record_labels
            report.labels_stored += len(writer.add_labels(labels).stored)

    def _account(
        self,
        result: WriteResult,
        pending: PendingBatch,
        report: IngestReport,
        noun: str,
        turned_away: list[tuple[str, str]],
    ) -> None:
        report.stored += len(result.stored)
        report.duplicates += len(result.duplicates)
        pending.count_redactions(result, report.redactions)
        message = (
            f"conflict: a {noun} with this id is already stored with different content "
            "(not overwritten)"
        )
        for key in result.conflicts:
            report.conflicts += 1
            source, location, index = pending.blame(key)
            report.errors.append(RecordError(source, location, "id", message, key[0], index=index))
        targets = {e.id: e.response_id for e in pending.events} if result.unknown else {}
        for key in result.unknown:
            report.unknown_response += 1
            source, location, index = pending.blame(key)
            report.errors.append(
                RecordError(
                    source,
                    location,
                    "response_id",
                    f"no stored response has id {targets.get(key[0], key[0])!r}",
                    key[0],
                    index=index,
                )
            )
        turned_away.extend(result.conflicts + result.unknown)
