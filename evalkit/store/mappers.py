"""Explicit conversions between table rows and domain records.

The core never sees a row or a session: repository functions map through here. SQLite returns
naive datetimes; they are UTC by construction, so they are made aware again here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from sqlalchemy import Row

from evalkit.records import FeedbackEvent, FeedbackKind, LabelHead, LabelRecord, ResponseRecord


def aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


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
    """Imported datasets store booleans as ``true``/``false``; reviewers store the schema's
    words (``yes``, ``unsure``, ``high``, ...), which must come back as they were, not as a
    boolean that would read every one of them as ``False``."""
    if head is not LabelHead.TONE and text in ("true", "false"):
        return text == "true"
    return text


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
