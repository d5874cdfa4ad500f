"""Preparing raw items for storage: decode, map, validate, hash, redact, lay out as rows.

Everything here is a pure function of the items and a small, picklable ``PrepareContext``, so the
same code runs in the ingesting process or in worker processes (``capture.parallel``) while the
main process reads and writes. Items are prepared a run at a time (a ``LineBlock`` of JSONL, or
a list of decoded items) into one ``PreparedChunk``: storage rows for the valid records, the
errors that name the field of the invalid ones. The writing process then only extends lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import msgspec

from evalkit.capture.fast_decode import fast_parse_response
from evalkit.capture.mapping import Kind, apply_mapping
from evalkit.capture.readers import FileProblem, LineBlock, RawItem, decode_line
from evalkit.capture.redact.record import redact_record
from evalkit.capture.redact.redactor import Redactor
from evalkit.capture.validate import (
    FieldProblem,
    Limits,
    parse_feedback,
    parse_labels,
    parse_response,
)
from evalkit.records import FeedbackEvent, LabelRecord, RecordError, ResponseRecord
from evalkit.store.rows import json_text, response_row

#: What is prepared at a time: a block of JSONL lines, or decoded items and file problems.
Payload = LineBlock | list[RawItem | FileProblem]


@dataclass(frozen=True)
class PrepareContext:
    """Everything preparing an item depends on (picklable: it travels to worker processes)."""

    kind: Kind
    limits: Limits
    received_at: datetime
    max_record_bytes: int
    mapping: Mapping[str, str] = field(default_factory=dict)
    #: None: redaction off
    redact_kinds: tuple[str, ...] | None = None
    label_source: str | None = None


class PreparedChunk(msgspec.Struct, array_like=True):
    """A run of items from one source, prepared, in input order.

    Lists named per valid record (``places``, ``rows`` or ``events``, ``labels``) line up with
    each other. A msgspec struct so that worker processes send it back as MessagePack, several
    times cheaper to encode and decode than pickle.
    """

    source: str
    #: records read, valid or not (file problems are not records)
    read: int = 0
    #: per valid record: (location, 0-based index of an in-memory batch)
    places: list[tuple[str, int | None]] = msgspec.field(default_factory=list)
    #: per valid response: its storage row (``store.rows.response_row``)
    rows: list[tuple[Any, ...]] = msgspec.field(default_factory=list)
    #: per valid feedback event, with its content hash
    events: list[FeedbackEvent] = msgspec.field(default_factory=list)
    event_hashes: list[str] = msgspec.field(default_factory=list)
    #: per valid response of a labelled import: its labels
    labels: list[list[LabelRecord]] = msgspec.field(default_factory=list)
    #: invalid records and unreadable files, in input order
    errors: list[RecordError] = msgspec.field(default_factory=list)
    #: how many of ``errors`` are whole files that could not be read
    file_problems: int = 0
    #: (index in ``places``, PII replaced per kind) of each valid record that had some: counted
    #: in the report only if the record is stored, not when it was already there
    redactions: list[tuple[int, dict[str, int]]] = msgspec.field(default_factory=list)


class Preparer:
    """Prepares payloads under one context; build once, call per payload."""

    def __init__(self, ctx: PrepareContext) -> None:
        self.ctx = ctx
        self.redactor = Redactor(ctx.redact_kinds) if ctx.redact_kinds is not None else None
        # Undecoded JSONL lines of responses under evalkit's own field names may take the
        # one-pass decoder; anything it is unsure of comes back to the careful path.
        self._fast = ctx.kind == "responses" and not ctx.mapping

    def __call__(self, source: str, payload: Payload) -> PreparedChunk:
        chunk = PreparedChunk(source)
        if isinstance(payload, LineBlock):
            self._block(chunk, payload)
            return chunk
        for item in payload:
            if isinstance(item, FileProblem):
                message = str(item).removeprefix(f"{source}: ")
                chunk.errors.append(RecordError(source, "file", None, message))
                chunk.file_problems += 1
                continue
            chunk.read += 1
            self._one(chunk, item)
        return chunk

    def _block(self, chunk: PreparedChunk, block: LineBlock) -> None:
        """The lines of a JSONL block: plain lines take the one-pass decoder, others (and the
        lines it is unsure of) ``_prepare``. The hot path of a large ingest."""
        for item in block.lines(self.ctx.max_record_bytes):
            chunk.read += 1
            self._one(chunk, item)

    def _one(self, chunk: PreparedChunk, item: RawItem) -> None:
        """One record: undecoded JSON of a response may take the one-pass decoder."""
        if self._fast and item.raw is not None:
            ctx = self.ctx
            record = fast_parse_response(item.raw, received_at=ctx.received_at, limits=ctx.limits)
            if record is not None:  # valid; only redaction is left, and it takes any text
                self._add_response(chunk, item, record, ())
                return
        error = self._prepare(chunk, item)
        if error is not None:
            chunk.errors.append(error)

    def _prepare(self, chunk: PreparedChunk, item: RawItem) -> RecordError | None:
        """Add the item to ``chunk`` if it is valid; else the error naming its field."""
        if item.raw is not None:
            item = decode_line(item)
        if item.data is None:
            return RecordError(
                chunk.source, item.location, None, item.error or "unreadable", index=item.index
            )
        try:
            self._validate(chunk, item, item.data)
        except (FieldProblem, RecursionError, OverflowError, ValueError, TypeError) as exc:
            # Validation names the field; anything else a record can still trigger deep in a
            # library is that record's problem too, never a reason to stop the whole ingest.
            problem = (
                exc
                if isinstance(exc, FieldProblem)
                else FieldProblem(None, f"cannot be processed ({type(exc).__name__}: {exc})")
            )
            rid = item.data.get("id")
            return RecordError(
                chunk.source,
                item.location,
                self._field_name(problem.field),
                problem.message,
                rid if isinstance(rid, str) else None,
                index=item.index,
            )
        return None

    def _validate(self, chunk: PreparedChunk, item: RawItem, raw: dict[str, Any]) -> None:
        ctx = self.ctx
        data = apply_mapping(raw, ctx.mapping) if ctx.mapping else raw
        if ctx.kind == "feedback":
            event, digest = parse_feedback(data, received_at=ctx.received_at, limits=ctx.limits)
            if self.redactor is not None and event.kind.value in ("correction", "comment"):
                text, counts = self.redactor.redact(event.value)
                if counts:
                    event = msgspec.structs.replace(event, value=text)
                    chunk.redactions.append((len(chunk.places), dict(counts)))
            chunk.places.append((item.location, item.index))
            chunk.events.append(event)
            chunk.event_hashes.append(digest)
            return
        labels_raw = None
        if ctx.kind == "labelled":
            data = dict(data)
            labels_raw = data.pop("labels", None)
            if labels_raw is None:
                raise FieldProblem("labels", "required field is missing")
        record = parse_response(data, received_at=ctx.received_at, limits=ctx.limits)
        labels: tuple[LabelRecord, ...] = ()
        if labels_raw is not None:
            labels = tuple(
                parse_labels(
                    labels_raw,
                    response_id=record.id,
                    annotator=ctx.label_source or "",
                    created_at=ctx.received_at,
                )
            )
        self._add_response(chunk, item, record, labels)

    def _add_response(
        self,
        chunk: PreparedChunk,
        item: RawItem,
        record: ResponseRecord,
        labels: tuple[LabelRecord, ...],
    ) -> None:
        metadata_json = json_text(record.metadata)  # one serialisation, for the test and the row
        if self.redactor is not None:
            found: dict[str, int] = {}
            redacted = redact_record(record, self.redactor, found, metadata_json)
            if redacted is not record:
                if redacted.metadata is not record.metadata:
                    metadata_json = json_text(redacted.metadata)
                chunk.redactions.append((len(chunk.places), found))
            record = redacted
        chunk.places.append((item.location, item.index))
        chunk.rows.append(response_row(record, metadata_json))
        if self.ctx.kind == "labelled":
            chunk.labels.append(list(labels))

    def _field_name(self, name: str | None) -> str | None:
        if name is None:
            return None
        column = self.ctx.mapping.get(name.split(".", 1)[0])
        return f"{name} (column '{column}')" if column else name
