"""The ingest pipeline: read → map → validate → redact → de-duplicate → store in batches.

Files, HTTP requests and the SDK all come through ``Ingestor``, so every entry point has the same
rules and the same error messages. Each batch is one transaction: an interrupted ingest leaves
whole batches behind and re-running it stores only what is missing. With ``strict`` the whole
run is one transaction that is rolled back if any record is turned away.
"""

from __future__ import annotations

import difflib
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from evalkit.capture.parallel import prepare_stream
from evalkit.capture.prepare import Kind, PrepareContext, PreparedChunk
from evalkit.capture.readers import FileProblem, LineBlock, RawItem, Reader, detect_format
from evalkit.capture.redact_record import add_counts
from evalkit.capture.validate import FEEDBACK_FIELDS, RESPONSE_FIELDS, Limits
from evalkit.errors import IngestInterrupted, UsageError
from evalkit.records import (
    FeedbackEvent,
    IngestReport,
    LabelRecord,
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


#: The fields ``--map`` may fill, per kind. Any other name would be kept in ``metadata`` and
#: the column it names would go missing from the record without a word.
MAPPABLE_FIELDS: dict[str, frozenset[str]] = {
    "responses": RESPONSE_FIELDS,
    "feedback": FEEDBACK_FIELDS,
    "labelled": RESPONSE_FIELDS | {"labels"},
}
_RECORD_NOUN = {
    "responses": "a response",
    "feedback": "a feedback event",
    "labelled": "a labelled response",
}


def parse_mapping(pairs: Sequence[str], *, kind: Kind) -> dict[str, str]:
    """``["response=output", "model_id=meta.model"]`` → ``{"response": "output", ...}``.

    Raises ``UsageError`` for a pair that is not ``field=column``, a field that ``kind``
    records do not have, or a field given twice.
    """
    fields = MAPPABLE_FIELDS[kind]
    mapping: dict[str, str] = {}
    for pair in pairs:
        target, sep, column = (part.strip() for part in pair.partition("="))
        if not sep or not target or not column:
            raise UsageError(f"--map expects field=column, got {pair!r}")
        if target not in fields:
            close = difflib.get_close_matches(target.lower(), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(
                f"--map {pair!r}: {target!r} is not a field of {_RECORD_NOUN[kind]}{hint}; "
                f"fields: {', '.join(sorted(fields))}"
            )
        if target in mapping:
            raise UsageError(
                f"--map names {target!r} twice ({target}={mapping[target]} and {pair.strip()})"
            )
        mapping[target] = column
    return mapping


class _StrictRollback(Exception):
    pass


#: What writing a batch adds to a report (``read``, ``invalid`` and file errors come before)
_BATCH_COUNTS = (
    "stored",
    "duplicates",
    "conflicts",
    "unknown_response",
    "labels_stored",
    "rekeyed",
)


def _counts(report: IngestReport) -> tuple[tuple[int, ...], dict[str, int], int]:
    return (
        tuple(getattr(report, name) for name in _BATCH_COUNTS),
        dict(report.redactions),
        len(report.errors),
    )


def _restore_counts(
    report: IngestReport, counts: tuple[tuple[int, ...], dict[str, int], int]
) -> None:
    values, report.redactions, errors = counts
    for name, value in zip(_BATCH_COUNTS, values, strict=True):
        setattr(report, name, value)
    del report.errors[errors:]


def _nothing_stored(report: IngestReport) -> None:
    """The run's one transaction was rolled back: none of what it counted as stored is."""
    report.stored = report.labels_stored = 0
    report.redactions = {}


@dataclass
class _Pending:
    """Prepared records waiting for the next batch write, with where each came from.

    The lists named per record line up: ``places`` with ``rows`` (responses) or ``events``
    (feedback), and ``labels`` with ``rows`` in a labelled import.
    """

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[FeedbackEvent] = field(default_factory=list)
    event_hashes: list[str] = field(default_factory=list)
    labels: list[list[LabelRecord]] = field(default_factory=list)
    #: (source, location, index)
    places: list[tuple[str, str, int | None]] = field(default_factory=list)
    #: PII replaced in each record, per kind (None: none)
    redactions: list[dict[str, int] | None] = field(default_factory=list)
    _blamed: dict[tuple[str, str], list[tuple[str, str, int | None]]] | None = None

    def add(self, chunk: PreparedChunk) -> None:
        self.rows += chunk.rows
        self.events += chunk.events
        self.event_hashes += chunk.event_hashes
        self.labels += chunk.labels
        source = chunk.source
        start = len(self.places)
        self.places += [(source, location, index) for location, index in chunk.places]
        self.redactions += [None] * len(chunk.places)
        for i, counts in chunk.redactions:
            self.redactions[start + i] = counts

    def take(self, n: int) -> _Pending:
        """The first ``n`` records as a batch of their own; they leave this one."""
        batch = _Pending(
            self.rows[:n],
            self.events[:n],
            self.event_hashes[:n],
            self.labels[:n],
            self.places[:n],
            self.redactions[:n],
        )
        del self.rows[:n], self.events[:n], self.event_hashes[:n], self.labels[:n]
        del self.places[:n], self.redactions[:n]
        return batch

    def count_redactions(self, result: WriteResult, totals: dict[str, int]) -> None:
        """Add the PII replaced in the records this batch stored: a record already there (a
        re-ingest, a retried request) or turned away had nothing of its own redacted."""
        if not any(self.redactions):
            return
        # The writer stores the first record of each new id in the batch (a conflict of a
        # labelled import under its new id); later ones with that id were not stored.
        stored = set(result.stored)
        seen: set[str] = set()
        for key, counts in zip(self.keys(), self.redactions, strict=True):
            rid = result.rekeyed.get(key, key[0])
            if rid in seen:
                continue
            seen.add(rid)
            if counts is not None and rid in stored:
                add_counts(totals, counts)

    def keys(self) -> list[tuple[str, str]]:
        """(id, content hash) of each record, in order."""
        if self.rows:
            return [(row[0], row[-1]) for row in self.rows]
        return [(e.id, h) for e, h in zip(self.events, self.event_hashes, strict=True)]

    def blame(self, key: tuple[str, str]) -> tuple[str, str, int | None]:
        """Where the next not-yet-blamed record with this key came from."""
        if self._blamed is None:  # built on the first conflict only: most batches have none
            self._blamed = {}
            for k, place in zip(self.keys(), self.places, strict=True):
                self._blamed.setdefault(k, []).append(place)
        places = self._blamed.get(key)
        return places.pop(0) if places else ("?", "?", None)

    def __len__(self) -> int:
        return len(self.places)


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
        self, raws: Iterable[Mapping[str, Any]], source: str = "request", *, audit: bool = False
    ) -> IngestReport:
        """Ingest in-memory records (HTTP body, SDK buffer); locations are ``record N`` (1-based).

        ``audit`` writes an ``ingest_runs`` row; off by default because the SDK flushes often.
        """
        items = (
            (
                source,
                RawItem(
                    f"record {i + 1}",
                    dict(raw) if isinstance(raw, Mapping) else None,
                    None if isinstance(raw, Mapping) else "expected an object",
                    index=i,
                ),
            )
            for i, raw in enumerate(raws)
        )
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

        def flush(writer: Writer, batch: _Pending) -> None:
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

                def flush_one(batch: _Pending) -> None:
                    # The batch is counted as it is written, before its commit: if the commit
                    # never happens (Ctrl-C during it, a failing store), undo its counts so
                    # the report and the audit row say only what is stored.
                    before = _counts(report)
                    try:
                        with self.db.writer() as writer:
                            flush(writer, batch)
                    except BaseException:
                        _restore_counts(report, before)
                        raise

                self._consume(items, report, flush_one, workers, started)
        except _StrictRollback:
            report.rolled_back = True
            _nothing_stored(report)
        except KeyboardInterrupt:
            # Complete batches stay stored (each was its own transaction; under --strict the
            # one transaction rolled back). Leave an audit row saying so, then stop.
            report.interrupted = True
            if self.options.strict:
                _nothing_stored(report)
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
        flush: Callable[[_Pending], None],
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
        pending = _Pending()
        batch_size = self.settings.batch_size
        stop = self.stop
        for chunk in prepare_stream(items, ctx, workers=workers):
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
        pending: _Pending,
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
        pending: _Pending,
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
