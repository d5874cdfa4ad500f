"""Preparing one raw item for storage: decode, map, validate, hash, redact.

Everything here is a pure function of the item and a small, picklable ``PrepareContext``, so the
same code runs in the ingesting process or in worker processes (``capture.parallel``) while the
main process reads and writes. What comes out is a ``Prepared``: the record ready to store, or
the error that names its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import msgspec

from evalkit.capture.readers import RawItem, decode_line
from evalkit.capture.redact import Redactor
from evalkit.capture.validate import (
    FieldProblem,
    Limits,
    parse_feedback,
    parse_labels,
    parse_response,
)
from evalkit.records import FeedbackEvent, LabelRecord, RecordError, ResponseRecord

Kind = Literal["responses", "feedback", "labelled"]


@dataclass(frozen=True)
class PrepareContext:
    """Everything preparing an item depends on (picklable: it travels to worker processes)."""

    kind: Kind
    limits: Limits
    received_at: datetime
    mapping: Mapping[str, str] = field(default_factory=dict)
    #: None: redaction off
    redact_kinds: tuple[str, ...] | None = None
    label_source: str | None = None


class Prepared(msgspec.Struct, frozen=True):
    """One input item, ready to store (``record``/``event``) or turned away (``error``).

    A msgspec struct so that worker processes can send chunks of them back as MessagePack,
    several times cheaper to encode and decode than pickle.
    """

    source: str
    location: str
    index: int | None
    #: (id, content hash) of a valid item
    key: tuple[str, str] | None = None
    record: ResponseRecord | None = None
    event: FeedbackEvent | None = None
    labels: tuple[LabelRecord, ...] = ()
    error: RecordError | None = None
    redactions: dict[str, int] | None = None
    #: the whole file could not be read (then ``location`` is "file")
    file_problem: str | None = None


class Preparer:
    """Prepares items under one context; build once, call per item."""

    def __init__(self, ctx: PrepareContext) -> None:
        self.ctx = ctx
        self.redactor = Redactor(ctx.redact_kinds) if ctx.redact_kinds is not None else None

    def __call__(self, source: str, item: RawItem) -> Prepared:
        if item.raw is not None:
            item = decode_line(item)
        if item.data is None:
            error = RecordError(
                source, item.location, None, item.error or "unreadable", index=item.index
            )
            return Prepared(source, item.location, item.index, error=error)
        try:
            return self._prepare(source, item, item.data)
        except (FieldProblem, RecursionError, OverflowError, ValueError, TypeError) as exc:
            # Validation names the field; anything else a record can still trigger deep in a
            # library is that record's problem too, never a reason to stop the whole ingest.
            problem = (
                exc
                if isinstance(exc, FieldProblem)
                else FieldProblem(None, f"cannot be processed ({type(exc).__name__}: {exc})")
            )
            rid = item.data.get("id")
            error = RecordError(
                source,
                item.location,
                self._field_name(problem.field),
                problem.message,
                rid if isinstance(rid, str) else None,
                index=item.index,
            )
            return Prepared(source, item.location, item.index, error=error)

    def _prepare(self, source: str, item: RawItem, raw: dict[str, Any]) -> Prepared:
        ctx = self.ctx
        data = apply_mapping(raw, ctx.mapping) if ctx.mapping else raw
        counts: dict[str, int] = {}
        if ctx.kind == "feedback":
            event, digest = parse_feedback(data, received_at=ctx.received_at, limits=ctx.limits)
            if self.redactor is not None and event.kind.value in ("correction", "comment"):
                text, counts = self.redactor.redact(event.value)
                if counts:
                    event = msgspec.structs.replace(event, value=text)
            return Prepared(
                source,
                item.location,
                item.index,
                key=(event.id, digest),
                event=event,
                redactions=counts or None,
            )
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
        if self.redactor is not None:
            record = self._redact(record, counts)
        return Prepared(
            source,
            item.location,
            item.index,
            key=(record.id, record.content_hash),
            record=record,
            labels=labels,
            redactions=counts or None,
        )

    def _redact(self, record: ResponseRecord, counts: dict[str, int]) -> ResponseRecord:
        assert self.redactor is not None
        update: dict[str, Any] = {}
        for name in ("prompt", "context", "response"):
            value = getattr(record, name)
            if value:
                text, found = self.redactor.redact(value)
                if found:
                    update[name] = text
                    add_counts(counts, found)
        if record.metadata:
            metadata = redact_nested(record.metadata, self.redactor, counts)
            if metadata is not record.metadata:
                update["metadata"] = metadata
        return msgspec.structs.replace(record, **update) if update else record

    def _field_name(self, name: str | None) -> str | None:
        if name is None:
            return None
        column = self.ctx.mapping.get(name.split(".", 1)[0])
        return f"{name} (column '{column}')" if column else name


def apply_mapping(raw: Mapping[str, Any], mapping: Mapping[str, str]) -> dict[str, Any]:
    """Rename source columns to evalkit fields; a dotted column reaches into nested objects."""
    data = dict(raw)
    for target, column in mapping.items():
        if column in data:
            data[target] = data.pop(column)
            continue
        value: Any = raw
        for part in column.split("."):
            if isinstance(value, Mapping) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                break
        else:
            data[target] = value
    return data


def add_counts(total: dict[str, int], counts: Mapping[str, int]) -> None:
    for kind, n in counts.items():
        total[kind] = total.get(kind, 0) + n


def redact_nested(value: Any, redactor: Redactor, totals: dict[str, int]) -> Any:
    """Redact every string inside a JSON value; containers are copied only if one changes."""
    kind = type(value)
    if kind is str:
        text, counts = redactor.redact(value)
        if not counts:
            return value
        add_counts(totals, counts)
        return text
    if kind is dict:
        out = None
        for key, inner in value.items():
            new = redact_nested(inner, redactor, totals)
            if new is not inner:
                out = out if out is not None else dict(value)
                out[key] = new
        return value if out is None else out
    if kind is list:
        items = [redact_nested(v, redactor, totals) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value
