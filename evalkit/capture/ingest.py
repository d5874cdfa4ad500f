"""The ingest pipeline: read → map → validate → redact → de-duplicate → store in batches.

Files, HTTP requests and the SDK all come through ``Ingestor``, so every entry point has the same
rules and the same error messages. Each batch is one transaction: an interrupted ingest leaves
whole batches behind and re-running it stores only what is missing. With ``strict`` the whole
run is one transaction that is rolled back if any record is turned away.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from evalkit.capture.parallel import prepare_stream
from evalkit.capture.prepare import Kind, PrepareContext, add_counts
from evalkit.capture.readers import FileProblem, RawItem, Reader, detect_format
from evalkit.capture.validate import Limits
from evalkit.errors import UsageError
from evalkit.records import (
    FeedbackEvent,
    IngestReport,
    LabelRecord,
    RecordError,
    ResponseRecord,
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


def parse_mapping(pairs: Sequence[str]) -> dict[str, str]:
    """``["response=output", "model_id=meta.model"]`` → ``{"response": "output", ...}``."""
    mapping: dict[str, str] = {}
    for pair in pairs:
        target, sep, column = pair.partition("=")
        if not sep or not target.strip() or not column.strip():
            raise UsageError(f"--map expects field=column, got {pair!r}")
        mapping[target.strip()] = column.strip()
    return mapping


class _StrictRollback(Exception):
    pass


@dataclass(frozen=True)
class _Where:
    source: str
    location: str
    index: int | None


@dataclass
class _Pending:
    """Parsed records waiting for the next batch write, with where each came from."""

    responses: list[ResponseRecord] = field(default_factory=list)
    feedback: list[FeedbackEvent] = field(default_factory=list)
    feedback_hashes: list[str] = field(default_factory=list)
    #: labels with the content hash of the record they belong to (ids may repeat in datasets)
    labels: list[tuple[str, LabelRecord]] = field(default_factory=list)
    #: (id, content hash) -> where each record with that key came from, in input order
    where: dict[tuple[str, str], list[_Where]] = field(default_factory=dict)

    def blame(self, key: tuple[str, str]) -> _Where:
        """Where the next not-yet-blamed record with this key came from."""
        places = self.where.get(key)
        return places.pop(0) if places else _Where("?", "?", None)

    def __len__(self) -> int:
        return len(self.responses) + len(self.feedback)


class Ingestor:
    """Validates, redacts and stores raw records of one kind."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        options: IngestOptions | None = None,
        *,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.options = options or IngestOptions()
        if self.options.kind == "labelled" and not self.options.label_source:
            raise UsageError("a labelled import needs a source name (--source NAME)")
        self.clock = clock
        self.limits = Limits(max_field_chars=settings.max_field_chars)

    # -- entry points ------------------------------------------------------------------------

    def ingest_files(self, paths: Sequence[Path], progress: Progress | None = None) -> IngestReport:
        """Ingest every file; a file that cannot be read is reported and the others go on."""
        paths = [Path(p) for p in paths]
        workers = self._workers(paths)
        # Usage errors (missing file, unknown format) before anything is stored:
        readers = [self._reader(p, decode=workers <= 1) for p in paths]
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

    def _reader(self, path: Path, *, decode: bool) -> Reader:
        return Reader(
            path,
            detect_format(path, self.options.fmt),
            max_record_bytes=self.settings.max_record_bytes,
            decode=decode,
        )

    def _file_items(
        self, readers: Sequence[Reader], progress: Progress | None
    ) -> Iterator[tuple[str, RawItem | FileProblem]]:
        for reader in readers:
            name = str(reader.path)
            seen = 0
            try:
                for item in reader:
                    if seen == 0:
                        self._check_columns(reader)
                    seen += 1
                    if progress is not None:
                        progress(name, item.progress, reader.total)
                    yield name, item
            except FileProblem as problem:
                yield name, problem
                continue
            if seen == 0:
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
        items: Iterable[tuple[str, RawItem | FileProblem]],
        source: str,
        *,
        audit: bool,
        collect_ids: bool = False,
        workers: int = 1,
    ) -> IngestReport:
        started = self.clock()
        report = IngestReport()
        keys: list[tuple[str, str] | None] = []  # per input record: (id, hash), None if invalid
        turned_away: list[tuple[str, str]] = []  # conflicts and unknown references
        received_at = started
        try:
            if self.options.strict:
                with self.db.writer() as writer:
                    self._consume(
                        items,
                        report,
                        received_at,
                        keys,
                        lambda pending: self._flush(writer, pending, report, turned_away),
                        workers,
                    )
                    if report.errors:
                        raise _StrictRollback
            else:

                def flush(pending: _Pending) -> None:
                    with self.db.writer() as w:
                        self._flush(w, pending, report, turned_away)

                self._consume(items, report, received_at, keys, flush, workers)
        except _StrictRollback:
            report.rolled_back = True
            report.stored = 0
            report.labels_stored = 0
        if collect_ids:
            rejected = set(turned_away)
            report.ids = [
                None if key is None or key in rejected or report.rolled_back else key[0]
                for key in keys
            ]
        if audit:
            record_ingest_run(
                self.db,
                source=source,
                kind=self.options.kind,
                started_at=started,
                finished_at=self.clock(),
                report=report,
            )
        return report

    def _consume(
        self,
        items: Iterable[tuple[str, RawItem | FileProblem]],
        report: IngestReport,
        received_at: datetime,
        keys: list[tuple[str, str] | None],
        flush: Callable[[_Pending], None],
        workers: int,
    ) -> None:
        ctx = PrepareContext(
            kind=self.options.kind,
            limits=self.limits,
            received_at=received_at,
            mapping=dict(self.options.mapping),
            redact_kinds=self.settings.redact_kinds if self.settings.redact_enabled else None,
            label_source=self.options.label_source,
        )
        pending = _Pending()
        batch_size = self.settings.batch_size
        for outcome in prepare_stream(items, ctx, workers=workers):
            if outcome.file_problem is not None:
                report.errors.append(
                    RecordError(outcome.source, "file", None, outcome.file_problem)
                )
                report.invalid += 1
                continue
            report.read += 1
            if outcome.redactions:
                add_counts(report.redactions, outcome.redactions)
            if outcome.error is not None or outcome.key is None:
                report.invalid += 1
                if outcome.error is not None:
                    report.errors.append(outcome.error)
                keys.append(None)
                continue
            if outcome.event is not None:
                pending.feedback.append(outcome.event)
                pending.feedback_hashes.append(outcome.key[1])
            elif outcome.record is not None:
                pending.responses.append(outcome.record)
                pending.labels.extend((outcome.key[1], label) for label in outcome.labels)
            where = _Where(outcome.source, outcome.location, outcome.index)
            pending.where.setdefault(outcome.key, []).append(where)
            keys.append(outcome.key)
            if len(pending) >= batch_size:
                flush(pending)
                pending = _Pending()
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
            result = writer.add_feedback(pending.feedback, pending.feedback_hashes)
            self._account(result, pending, report, "feedback event", turned_away)
            return
        labelled = self.options.kind == "labelled"
        # Third-party datasets reuse ids for different records: keep both (see add_responses).
        result = writer.add_responses(pending.responses, rekey_conflicts=labelled)
        self._account(result, pending, report, "response", turned_away)
        report.rekeyed += len(result.rekeyed)
        if labelled:
            unsettled = {rid for rid, _ in result.conflicts}
            labels = []
            for digest, label in pending.labels:
                moved = result.rekeyed.get((label.response_id, digest))
                if moved is not None:
                    labels.append(msgspec.structs.replace(label, response_id=moved))
                elif label.response_id not in unsettled:
                    labels.append(label)
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
        message = (
            f"conflict: a {noun} with this id is already stored with different content "
            "(not overwritten)"
        )
        for key in result.conflicts:
            report.conflicts += 1
            where = pending.blame(key)
            report.errors.append(
                RecordError(where.source, where.location, "id", message, key[0], index=where.index)
            )
        targets = {e.id: e.response_id for e in pending.feedback} if result.unknown else {}
        for key in result.unknown:
            report.unknown_response += 1
            where = pending.blame(key)
            report.errors.append(
                RecordError(
                    where.source,
                    where.location,
                    "response_id",
                    f"no stored response has id {targets.get(key[0], key[0])!r}",
                    key[0],
                    index=where.index,
                )
            )
        turned_away.extend(result.conflicts + result.unknown)
