"""Storage rows: the database-neutral form in which the ingest hot path hands records to
``store.bulk``.

A storage row is a tuple in the table's column order, with JSON columns as JSON text and
timestamps as UTC text in SQLAlchemy's SQLite layout. Rows are built where records are prepared,
often a worker process, so this module imports nothing heavy (no SQLAlchemy): workers start
faster, and the writing process does no per-field work.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import orjson

from evalkit.records import ResponseRecord

#: The responses table's columns in table order, which a storage row follows (a test checks
#: this against ``store.tables``; spelled out so that worker processes need no SQLAlchemy).
RESPONSE_COLUMNS: tuple[str, ...] = (
    "id",
    "received_at",
    "created_at",
    "tenant",
    "model_id",
    "model_version",
    "prompt_version",
    "intent",
    "user_segment",
    "prompt",
    "context",
    "response",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost",
    "confidence",
    "outcome",
    "metadata",
    "content_hash",
)
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
    global _last_received
    values = _RESPONSE_VALUES(record)
    last = _last_received  # one read: another thread may replace it meanwhile
    if values[1] is not last[0]:  # the records of one ingest share their received_at
        last = _last_received = (values[1], time_text(values[1]))
    return (
        values[0],
        last[1],
        time_text(values[2]),
        *values[3:_METADATA_AT],
        json_text(record.metadata) if metadata_json is None else metadata_json,
        *values[_METADATA_AT + 1 :],
    )


_last_received: tuple[datetime | None, str] = (None, "")


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
