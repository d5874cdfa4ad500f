"""Validating what is said about a stored response: feedback events and imported labels.

Both attach to a response by id and carry a judgement, not a response's content. Outcomes and
ratings usually arrive later, from other systems (a CRM, a thumbs widget), so they accept the
spellings those send (``+1``, ``thumbs_down``, ``Resolved``) and are stored as one canonical
value; a correction or comment must hold text. Labels (the ``labels`` object of the
labelled-response interchange format) accept only the known heads, each with its own values.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import msgspec

from evalkit.capture.validate.fields import (
    FieldProblem,
    Id,
    Limits,
    Name,
    collect_metadata,
    content_hash,
    convert_input,
    prepare_input,
    utc,
)
from evalkit.records import (
    TONE_VALUES,
    FeedbackEvent,
    FeedbackKind,
    LabelHead,
    LabelRecord,
    Outcome,
)


class FeedbackInput(msgspec.Struct, kw_only=True):
    """The accepted shape of a raw feedback event."""

    id: Id | None = None
    response_id: Id
    kind: FeedbackKind
    value: str | int | float
    created_at: datetime | None = None
    source: Name | None = None
    metadata: dict[str, Any] | None = None


FEEDBACK_FIELDS = frozenset(FeedbackInput.__struct_fields__)

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


def parse_feedback(
    raw: Mapping[str, Any], *, received_at: datetime, limits: Limits
) -> tuple[FeedbackEvent, str]:
    """Validate a feedback event; returns it with its content hash."""
    data = prepare_input(raw, limits, ("value",))
    parsed = convert_input(data, FeedbackInput)
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
    metadata = collect_metadata(data, FEEDBACK_FIELDS, data.get("metadata"))
    hashed: dict[str, Any] = {
        "response_id": parsed.response_id,
        "kind": parsed.kind.value,
        "value": value,
        "source": parsed.source,
        "metadata": metadata,
    }
    created = utc(parsed.created_at) if parsed.created_at is not None else None
    if created is not None:
        hashed["created_at"] = created
    digest = content_hash(hashed)
    event = FeedbackEvent(
        id=parsed.id or f"sha-{digest[:32]}",
        response_id=parsed.response_id,
        kind=parsed.kind,
        value=value,
        created_at=created or received_at,
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
