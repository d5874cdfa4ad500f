"""Explicit conversions between table rows and domain records.

The core never sees a row or a session: repository functions map through here. SQLite returns
naive datetimes; they are UTC by construction, so they are made aware again here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import msgspec
import orjson
from sqlalchemy import Row

from evalkit.records import FeedbackEvent, FeedbackKind, LabelHead, LabelRecord, ResponseRecord
from evalkit.store.tables import RESPONSES


def aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


#: The responses table's columns, in the order of a storage row (``response_row``).
RESPONSE_COLUMNS: tuple[str, ...] = tuple(c.name for c in RESPONSES.columns)
_RESPONSE_VALUES = attrgetter(*RESPONSE_COLUMNS)
_METADATA_AT = RESPONSE_COLUMNS.index("metadata")
assert RESPONSE_COLUMNS[:3] == ("id", "received_at", "created_at")
assert RESPONSE_COLUMNS[-1] == "content_hash"


def response_row(record: ResponseRecord, metadata_json: str | None = None) -> tuple[Any, ...]:
    """A response as a storage row: ``RESPONSE_COLUMNS`` order, metadata as JSON text.

    The ingest hot path builds these where records are prepared (worker processes, possibly)
    and hands them to the bulk writer, so the writing process does no per-field work.
    Timestamps become UTC text (``time_text``), which ``store.bulk`` adapts per database.
    ``metadata_json`` is ``json_text(record.metadata)`` when the caller has it already.
    """
    values = _RESPONSE_VALUES(record)
    received = values[1]
    if received is not _last_received[0]:  # the records of one ingest share it
        _last_received[:] = [received, time_text(received)]
    return (
        values[0],
        _last_received[1],
        time_text(values[2]),
        *values[3:_METADATA_AT],
        json_text(record.metadata) if metadata_json is None else metadata_json,
        *values[_METADATA_AT + 1 :],
    )


_last_received: list[Any] = [None, ""]


def time_text(value: datetime) -> str:
    """A timestamp as storage text: UTC, "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's SQLite
    layout, which sorts as text in time order); naive values are taken as UTC."""
    if value.tzinfo is not UTC and value.tzinfo is not None:
        value = value.astimezone(UTC)
    # One C call; the slice drops the "+00:00" an aware value carries.
    return value.isoformat(sep=" ", timespec="microseconds")[:26]


def json_text(value: Any) -> str:
    """JSON for a JSON column; integers beyond 64 bits (which orjson refuses) kept exact."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def json_value(text: str) -> Any:
    """The value of ``json_text``; the standard library's parser, as orjson would turn
    integers beyond 64 bits into floats (only slow paths read JSON text back)."""
    return json.loads(text)


def response_from_row(row: Row[Any] | Any) -> ResponseRecord:
    m = row._mapping if isinstance(row, Row) else row
    data = {k: m[k] for k in ResponseRecord.__struct_fields__ if k in m}
    data["received_at"] = aware(data["received_at"])
    data["created_at"] = aware(data["created_at"])
    data["metadata"] = data.get("metadata") or {}
    return ResponseRecord(**data)


def feedback_to_row(event: FeedbackEvent, content_hash: str) -> dict[str, Any]:
    row = msgspec.structs.asdict(event)
    row["kind"] = event.kind.value
    row["content_hash"] = content_hash
    return row


def feedback_from_row(row: Row[Any]) -> FeedbackEvent:
    m = row._mapping
    return FeedbackEvent(
        id=m["id"],
        response_id=m["response_id"],
        kind=FeedbackKind(m["kind"]),
        value=m["value"],
        created_at=aware(m["created_at"]),  # type: ignore[arg-type]
        received_at=aware(m["received_at"]),  # type: ignore[arg-type]
        source=m["source"],
        metadata=m["metadata"] or {},
    )


def label_value_to_text(value: bool | str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def label_value_from_text(head: LabelHead, text: str) -> bool | str:
    if head is LabelHead.TONE:
        return text
    return text == "true"


def label_to_row(label: LabelRecord) -> dict[str, Any]:
    row = msgspec.structs.asdict(label)
    del row["id"]
    row["head"] = label.head.value
    row["value"] = label_value_to_text(label.value)
    return row


def label_from_row(row: Row[Any]) -> LabelRecord:
    m = row._mapping
    head = LabelHead(m["head"])
    return LabelRecord(
        id=m["id"],
        response_id=m["response_id"],
        head=head,
        value=label_value_from_text(head, m["value"]),
        severity=m["severity"],
        annotator=m["annotator"],
        source_kind=m["source_kind"],
        note=m["note"],
        created_at=aware(m["created_at"]),  # type: ignore[arg-type]
        supersedes_id=m["supersedes_id"],
    )
