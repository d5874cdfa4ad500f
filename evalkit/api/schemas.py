"""What the HTTP API answers: one pydantic model per response body.

The ingest result mirrors ``IngestReport`` (counts, redactions, every rejection) plus what a
client needs to act on it: the position of each rejected record in its request, and the ids of
the records that are now in the store.
"""

from __future__ import annotations

import collections
import os
import threading
from typing import Any, Literal

import msgspec
from fastapi import Response
from pydantic import BaseModel, Field, create_model

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.capture.parallel import SharedPool
from evalkit.capture.prepare import Kind
from evalkit.records import IngestReport, RecordError, ResponseRecord
from evalkit.settings import Settings
from evalkit.store.database import Database


class Problem(BaseModel):
    """Any error that is not about one record: bad body, missing token, unknown id."""

    detail: str


class RecordErrorOut(BaseModel):
    """Why one record of the request was not stored."""

    index: int | None = Field(description="0-based position of the record in the request.")
    location: str = Field(
        description="The same position as ingest reports it: `record N`, 1-based."
    )
    field: str | None = Field(
        description="The field at fault; null when the whole record is unreadable."
    )
    id: str | None = Field(description="The record's id, when it has one.")
    message: str


class IngestResult(BaseModel):
    """The outcome of one POST: counts, accepted ids and every rejected record."""

    stored: int = Field(description="Records new to the store.")
    duplicates: int = Field(
        description="Records already stored with the same content: nothing to do."
    )
    rejected: int = Field(
        description="Records not stored: invalid, conflicting or unknown response."
    )
    ids: list[str | None] = Field(
        description="One entry per record of the request, in order: the id it is stored under "
        "(new or already there; derived from the content when the record had none), or null "
        "when it was rejected or a strict request was rolled back."
    )
    errors: list[RecordErrorOut] = Field(description="One entry per rejected record, by index.")
    redactions: dict[str, int] = Field(description="PII replaced before storing, per kind.")

    @classmethod
    def from_report(cls, report: IngestReport) -> IngestResult:
        errors = sorted((_error_out(e) for e in report.errors), key=_by_index)
        return cls(
            stored=report.stored,
            duplicates=report.duplicates,
            rejected=report.rejected,
            ids=list(report.ids),
            errors=errors,
            redactions=dict(report.redactions),
        )


#: Ingest requests worked on at once; the others wait their turn, in arrival order
#: (``FifoGate``). Ingest is CPU-bound Python: twenty requests at once on two cores only take
#: turns holding the GIL, each finishing late, and on SQLite queue for
#: its one writer anyway. Two per core, and no more than SQLAlchemy's default pool of five
#: connections, so no request waits for or opens a connection beyond the pool.
INGEST_CONCURRENCY = max(2, min(5, 2 * (os.cpu_count() or 1)))


class FifoGate:
    """A counting semaphore that admits strictly in arrival order.

    ``threading.Semaphore`` lets a newly arriving thread take a place that was just freed ahead
    of threads already waiting, so under load some requests wait several turns: measured with
    20 clients on PostgreSQL (``benchmarks/http_ingest.py``), p90 280–300 ms with it and
    190–230 ms with this gate at the same throughput. A freed place is handed to the oldest
    waiter directly.
    """

    def __init__(self, n: int) -> None:
        self._lock = threading.Lock()
        self._free = n
        self._waiting: collections.deque[threading.Lock] = collections.deque()

    def __enter__(self) -> None:
        with self._lock:
            if self._free and not self._waiting:
                self._free -= 1
                return
            turn = threading.Lock()
            turn.acquire()
            self._waiting.append(turn)
        turn.acquire()  # released by the holder that hands its place over

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._waiting:
                self._waiting.popleft().release()
            else:
                self._free += 1


_ingesting = FifoGate(INGEST_CONCURRENCY)


#: Batches of at least this many records are prepared in the app's pool of processes
#: (``SharedPool``); a smaller one costs less to prepare here than to send there and back.
SHARED_FROM_RECORDS = 50


def ingest_request(
    db: Database,
    settings: Settings,
    records: list[Any],
    kind: Kind,
    *,
    strict: bool,
    response: Response,
    shared: SharedPool | None = None,
) -> IngestResult:
    """The one use case behind both POST routes: ingest the records, answer with the report."""
    pool = shared if len(records) >= SHARED_FROM_RECORDS else None
    with _ingesting:
        report = Ingestor(
            db, settings, IngestOptions(kind=kind, strict=strict), shared=pool
        ).ingest_records(records, source="request")
    response.status_code = ingest_status(report)
    return IngestResult.from_report(report)


def ingest_status(report: IngestReport) -> int:
    """422 when any record was turned away, 201 when something new was stored, else 200."""
    if report.errors:
        return 422
    return 201 if report.stored else 200


def _error_out(error: RecordError) -> RecordErrorOut:
    return RecordErrorOut(
        index=error.index,
        location=error.location,
        field=error.field,
        id=error.record_id,
        message=error.message,
    )


def _by_index(error: RecordErrorOut) -> int:
    return error.index if error.index is not None else -1


def _pydantic_twin(struct: type[msgspec.Struct], name: str, doc: str) -> type[BaseModel]:
    """A pydantic model with the fields of a domain struct, for FastAPI's schemas."""
    fields: dict[str, Any] = {}
    for f in msgspec.structs.fields(struct):
        default = f.default if f.default is not msgspec.NODEFAULT else ...
        if f.default_factory is not msgspec.NODEFAULT:
            default = Field(default_factory=f.default_factory)
        fields[f.name] = (f.type, default)
    return create_model(name, __doc__=doc, **fields)


ResponseOut = _pydantic_twin(
    ResponseRecord,
    "ResponseOut",
    "A stored response exactly as kept: text already redacted, timestamps in UTC.",
)


class Health(BaseModel):
    status: Literal["ok"]
    store: str = Field(description="The store's SQL dialect: sqlite or postgresql.")
    version: str
    classifier_version: str | None = Field(
        description="The risk classifier `/v1/check` answers with (loaded at start), or null "
        "when none is active."
    )
