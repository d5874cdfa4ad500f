"""Turning one raw input record (a dict from a file, a request or the SDK) into a domain record.

Rules a user can rely on:
- ``response`` is required; every other known field is optional. Unknown fields are kept, in
  ``metadata``, never dropped and never an error.
- Types are checked, with the coercions a CSV needs ("12.5" is a number; an empty cell is
  missing) and none that hide mistakes (``true`` is not a token count, ``NaN`` is not a cost).
- Text is bounded (``max_field_chars``) and must be valid UTF-8; every problem names its field.
- A record without ``id`` gets one derived from its content, so re-ingesting it is a no-op.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from evalkit.records import (
    TONE_VALUES,
    FeedbackEvent,
    FeedbackKind,
    LabelHead,
    LabelRecord,
    Outcome,
    ResponseRecord,
)

TEXT_FIELDS = ("prompt", "context", "response")


class FieldProblem(Exception):
    """One field of one record is wrong; ``capture`` attaches the record's location."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    return value


def _timestamp(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a timestamp, got a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("expected a timestamp, got a non-finite number")
        # Epoch milliseconds are common in logs; seconds stop making sense past year 5000.
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
    return value


def _context(value: Any) -> Any:
    # RAG logs often keep retrieved passages as a list: store one text, blank-line separated.
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n\n".join(value)
    return value


Num = Annotated[float | None, BeforeValidator(_not_bool), Field(allow_inf_nan=False, ge=0)]
Count = Annotated[int | None, BeforeValidator(_not_bool), Field(ge=0)]
Stamp = Annotated[datetime | None, BeforeValidator(_timestamp)]
Short = Annotated[str | None, Field(max_length=256)]


class ResponseInput(BaseModel):
    """The accepted shape of a raw response record (also the HTTP API's request schema)."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)

    id: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    created_at: Stamp = None
    response: str
    prompt: str = ""
    context: Annotated[str | None, BeforeValidator(_context)] = None
    tenant: Short = None
    model_id: Short = None
    model_version: Short = None
    prompt_version: Short = None
    intent: Short = None
    user_segment: Short = None
    latency_ms: Num = None
    input_tokens: Count = None
    output_tokens: Count = None
    cost: Num = None
    confidence: Annotated[
        float | None, BeforeValidator(_not_bool), Field(allow_inf_nan=False, ge=0, le=1)
    ] = None
    outcome: Annotated[str | None, Field(max_length=64)] = None
    metadata: dict[str, Any] | None = None


class FeedbackInput(BaseModel):
    """The accepted shape of a raw feedback event."""

    model_config = ConfigDict(extra="allow")

    id: Annotated[str | None, Field(min_length=1, max_length=128)] = None
    response_id: Annotated[str, Field(min_length=1, max_length=128)]
    kind: FeedbackKind
    value: str | int | float
    created_at: Stamp = None
    source: Short = None
    metadata: dict[str, Any] | None = None


RATING_VALUES = {
    "up": "up",
    "+1": "up",
    "1": "up",
    "thumbs_up": "up",
    "down": "down",
    "-1": "down",
    "0": "down",
    "thumbs_down": "down",
}


@dataclass(frozen=True)
class Limits:
    max_field_chars: int


def content_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of a record's content, independent of key order."""
    blob = json.dumps(
        payload, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":")
    )
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()


def parse_response(
    raw: Mapping[str, Any], *, received_at: datetime, limits: Limits
) -> ResponseRecord:
    """Validate ``raw``; raise ``FieldProblem`` naming the first field at fault."""
    data = _drop_empty(raw)
    _check_text(data, limits)
    try:
        parsed = ResponseInput.model_validate(data)
    except ValidationError as exc:
        raise _problem(exc) from None
    fields = parsed.model_dump(exclude_unset=False)
    extra = dict(parsed.model_extra or {})
    metadata = _jsonable({**extra, **(fields.pop("metadata") or {})})
    fields.pop("id")
    created = fields.pop("created_at")
    hashed = {k: v for k, v in fields.items() if v is not None}
    hashed["metadata"] = metadata
    if created is not None:
        hashed["created_at"] = utc(created).isoformat()
    digest = content_hash(hashed)
    record_id = parsed.id or f"sha-{digest[:32]}"
    return ResponseRecord(
        id=record_id,
        received_at=received_at,
        created_at=utc(created) if created else received_at,
        metadata=metadata,
        content_hash=digest,
        **fields,
    )


def parse_feedback(
    raw: Mapping[str, Any], *, received_at: datetime, limits: Limits
) -> tuple[FeedbackEvent, str]:
    """Validate a feedback event; returns it with its content hash."""
    data = _drop_empty(raw)
    _check_text(data, limits, fields=("value",))
    try:
        parsed = FeedbackInput.model_validate(data)
    except ValidationError as exc:
        raise _problem(exc) from None
    value = str(parsed.value).strip()
    if parsed.kind is FeedbackKind.RATING:
        if value.lower() not in RATING_VALUES:
            raise FieldProblem("value", f"a rating is 'up' or 'down' (or +1/-1), got {value!r}")
        value = RATING_VALUES[value.lower()]
    elif parsed.kind is FeedbackKind.OUTCOME:
        allowed = [o.value for o in Outcome]
        if value.lower() not in allowed:
            raise FieldProblem("value", f"an outcome is one of {', '.join(allowed)}; got {value!r}")
        value = value.lower()
    elif not value:
        raise FieldProblem("value", f"a {parsed.kind.value} needs text")
    metadata = _jsonable({**(parsed.model_extra or {}), **(parsed.metadata or {})})
    hashed: dict[str, Any] = {
        "response_id": parsed.response_id,
        "kind": parsed.kind.value,
        "value": value,
        "source": parsed.source,
        "metadata": metadata,
    }
    if parsed.created_at is not None:
        hashed["created_at"] = utc(parsed.created_at).isoformat()
    digest = content_hash(hashed)
    event = FeedbackEvent(
        id=parsed.id or f"sha-{digest[:32]}",
        response_id=parsed.response_id,
        kind=parsed.kind,
        value=value,
        created_at=utc(parsed.created_at) if parsed.created_at else received_at,
        received_at=received_at,
        source=parsed.source,
        metadata=metadata,
    )
    return event, digest


def parse_labels(
    raw: Any, *, response_id: str, annotator: str, created_at: datetime
) -> list[LabelRecord]:
    """The ``labels`` object of the labelled-response interchange format."""
    if not isinstance(raw, Mapping) or not raw:
        raise FieldProblem("labels", "expected a non-empty object of head: value")
    out = []
    for head_name, value in raw.items():
        where = f"labels.{head_name}"
        try:
            head = LabelHead(head_name)
        except ValueError:
            known = ", ".join(h.value for h in LabelHead)
            raise FieldProblem(where, f"unknown label head; known: {known}") from None
        if head is LabelHead.TONE:
            if value not in TONE_VALUES:
                raise FieldProblem(
                    where, f"expected one of {', '.join(TONE_VALUES)}, got {value!r}"
                )
        elif not isinstance(value, bool):
            raise FieldProblem(where, f"expected true or false, got {value!r}")
        out.append(
            LabelRecord(
                response_id=response_id,
                head=head,
                value=value,
                annotator=annotator,
                source_kind="import",
                created_at=created_at,
            )
        )
    return out


def utc(value: datetime) -> datetime:
    """Naive timestamps in logs are UTC by convention; aware ones are converted."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _drop_empty(raw: Mapping[str, Any]) -> dict[str, Any]:
    # An empty CSV cell or a JSON null means "not given", except where "" is a real value.
    return {
        k: v for k, v in raw.items() if v is not None and (v != "" or k in ("prompt", "response"))
    }


def _check_text(
    data: Mapping[str, Any], limits: Limits, fields: tuple[str, ...] = TEXT_FIELDS
) -> None:
    """Bounds, encoding and storability of every value, before type validation.

    Both stores must accept whatever passes here: PostgreSQL refuses NUL characters in text and
    NaN in JSON, and no store can hold a Python object that is not JSON.
    """
    for name, value in data.items():
        if isinstance(value, str) and name in fields and len(value) > limits.max_field_chars:
            raise FieldProblem(
                name,
                f"{len(value):,} characters, over the limit of {limits.max_field_chars:,} "
                "(EVALKIT_MAX_FIELD_CHARS)",
            )
        _check_storable(name, value)


_SCALARS = (bool, int, type(None))


def _check_storable(name: str, value: Any) -> None:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise FieldProblem(name, f"invalid UTF-8 at character {exc.start}") from None
        if "\x00" in value:
            raise FieldProblem(name, f"NUL character at position {value.index(chr(0))}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise FieldProblem(name, f"{value} is not a storable number")
    elif isinstance(value, Mapping):
        for key, inner in value.items():
            if not isinstance(key, str):
                raise FieldProblem(name, f"object keys must be text, got {type(key).__name__}")
            _check_storable(f"{name}.{key}", inner)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            _check_storable(f"{name}[{i}]", inner)
    elif not isinstance(value, (*_SCALARS, date)):  # dates become ISO text in metadata
        raise FieldProblem(name, f"a {type(value).__name__} is not JSON data")


def _jsonable(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


#: Fields whose rejected input is echoed in messages; text fields are not, as they may hold PII.
_ECHOED = {
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost",
    "confidence",
    "created_at",
    "kind",
    "outcome",
}


def _problem(exc: ValidationError) -> FieldProblem:
    err = exc.errors(include_url=False)[0]
    loc = ".".join(str(part) for part in err["loc"])
    msg = err["msg"]
    if err["type"] == "missing":
        msg = "required field is missing"
    elif "input" in err and loc in _ECHOED:
        shown = repr(err["input"])
        msg = f"{msg} (got {shown[:60] + '…' if len(shown) > 60 else shown})"
    extra = len(exc.errors()) - 1
    if extra:
        msg += f" (+{extra} more problem{'s' if extra > 1 else ''} in this record)"
    return FieldProblem(loc or None, msg)
