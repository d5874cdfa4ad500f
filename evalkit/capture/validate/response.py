"""Validating a production response: the record every later stage samples, reviews and scores.

Besides the shared checks (``fields``) a response gets what only it has: the accepted
shape ``ResponseInput``, bounded text fields, and an id derived from its content when none is
given, so re-ingesting a file is a no-op. ``response_record`` is separate from
``parse_response`` because the fast JSONL decoder (``capture.fast_decode``) builds the same
record from input it validated itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any

import msgspec

from evalkit.capture.validate.fields import (
    Count,
    Id,
    Limits,
    Long,
    Name,
    NonNegative,
    Probability,
    collect_metadata,
    content_hash,
    convert_input,
    prepare_input,
    utc,
)
from evalkit.records import ResponseRecord

#: Bounded by ``max_field_chars``; the rest are bounded by their column.
TEXT_FIELDS = ("prompt", "context", "response")


class ResponseInput(msgspec.Struct, kw_only=True):
    """The accepted shape of a raw response record (also the HTTP API's request schema)."""

    id: Id | None = None
    created_at: datetime | None = None
    response: str
    prompt: str = ""
    context: str | None = None
    tenant: Name | None = None
    model_id: Long | None = None
    model_version: Name | None = None
    prompt_version: Name | None = None
    intent: Name | None = None
    user_segment: Name | None = None
    latency_ms: NonNegative | None = None
    input_tokens: Count | None = None
    output_tokens: Count | None = None
    cost: NonNegative | None = None
    confidence: Probability | None = None
    outcome: Annotated[str, msgspec.Meta(max_length=64)] | None = None
    metadata: dict[str, Any] | None = None


RESPONSE_FIELDS = frozenset(ResponseInput.__struct_fields__)


def parse_response(
    raw: Mapping[str, Any], *, received_at: datetime, limits: Limits
) -> ResponseRecord:
    """Validate ``raw``; raise ``FieldProblem`` naming the first field at fault."""
    data = prepare_input(raw, limits, TEXT_FIELDS)
    parsed = convert_input(data, ResponseInput)
    metadata = collect_metadata(data, RESPONSE_FIELDS, data.get("metadata"))
    return response_record(parsed, metadata, received_at)


def response_record(
    parsed: ResponseInput, metadata: dict[str, Any], received_at: datetime
) -> ResponseRecord:
    """The record for validated input: UTC timestamps, content hash, id if none was given.

    Shared by ``parse_response`` and the fast decoder (``capture.fast_decode``) so both derive
    hashes and ids the same way.
    """
    fields = msgspec.structs.asdict(parsed)
    del fields["id"], fields["created_at"], fields["metadata"]
    created = parsed.created_at
    hashed = {k: v for k, v in fields.items() if v is not None}
    hashed["metadata"] = metadata
    if created is not None:
        created = utc(created)
        hashed["created_at"] = created
    digest = content_hash(hashed)
    return ResponseRecord(
        id=parsed.id or f"sha-{digest[:32]}",
        received_at=received_at,
        created_at=created or received_at,
        metadata=metadata,
        content_hash=digest,
        **fields,
    )
