"""Domain types shared by every stage.

These are the shapes a response, a feedback event and a label have once they are inside
evalkit: validated, redacted, timezone-aware. They are frozen msgspec structs rather than
pydantic models because ingest builds tens of thousands a second: a struct is built in well
under a microsecond, with no second validation of fields that capture has already checked.
Copy with ``msgspec.structs.replace``; turn into a dict with ``msgspec.structs.asdict``.
Storage converts its rows to these (``store``), capture builds them from raw input
(``capture``), and later stages only ever see these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

#: The kinds of personal data redaction knows (``capture.redact``), in their settings' spelling.
PII_KINDS = ("email", "phone", "card", "ip", "secret")


def utcnow() -> datetime:
    """Timezone-aware now; every timestamp evalkit stores is UTC."""
    return datetime.now(UTC)


class Outcome(enum.StrEnum):
    """Business outcome of a conversation turn, usually known only after the response."""

    CONVERTED = "converted"
    RESOLVED = "resolved"
    DROPPED = "dropped"
    ESCALATED = "escalated"
    UNKNOWN = "unknown"


class FeedbackKind(enum.StrEnum):
    """What a late event says about a response."""

    OUTCOME = "outcome"  # value: an Outcome
    RATING = "rating"  # value: "up" | "down"
    CORRECTION = "correction"  # value: the user's corrected text
    COMMENT = "comment"  # value: free text


class LabelHead(enum.StrEnum):
    """The questions a reviewer (or an imported dataset) answers about a response."""

    HALLUCINATION = "hallucination"  # bool
    HARM = "harm"  # bool, with optional severity
    IMPOLITE = "impolite"  # bool
    TONE = "tone"  # "polite" | "neutral" | "impolite"


TONE_VALUES = ("polite", "neutral", "impolite")


class ResponseRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One production LLM response with everything known about it at capture time."""

    id: str
    received_at: datetime
    created_at: datetime
    response: str
    prompt: str = ""
    context: str | None = None
    tenant: str | None = None
    model_id: str | None = None
    model_version: str | None = None
    prompt_version: str | None = None
    intent: str | None = None
    user_segment: str | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    confidence: float | None = None
    outcome: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)
    #: sha256 of the record's content as received, before redaction; equal ids with different
    #: hashes are conflicts.
    content_hash: str = ""


class FeedbackEvent(msgspec.Struct, frozen=True, kw_only=True):
    """A late event about a stored response: outcome, rating, correction or comment."""

    id: str
    response_id: str
    kind: FeedbackKind
    value: str
    created_at: datetime
    received_at: datetime
    source: str | None = None
    metadata: dict[str, Any] = msgspec.field(default_factory=dict)


class LabelRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One judgement about one head of one response, by one annotator or source.

    Labels are append-only: a changed judgement is a new row that supersedes the old one, so the
    history of who said what, when, is kept for agreement and audit.
    """

    response_id: str
    head: LabelHead
    value: bool | str
    annotator: str
    created_at: datetime
    severity: int | None = None
    source_kind: str = "human"  # human | import | model | adjudication
    note: str | None = None
    id: int | None = None
    supersedes_id: int | None = None


@dataclass(frozen=True)
class RecordError:
    """Why one input record was not stored, pointing at the exact place to fix."""

    source: str  # file name, "request", "sdk"
    location: str  # "line 12", "row 7", "record 3"
    field: str | None  # the field at fault, None when the whole record is unreadable
    message: str
    record_id: str | None = None
    index: int | None = None  # 0-based position in an in-memory batch (HTTP, SDK)

    def __str__(self) -> str:
        where = f"{self.source}:{self.location}"
        rid = f" (id {self.record_id})" if self.record_id else ""
        fld = f" field '{self.field}'" if self.field else ""
        return f"{where}{rid}{fld}: {self.message}"


@dataclass
class IngestReport:
    """What one ingest did: counts, redactions and every record it turned away."""

    read: int = 0
    stored: int = 0
    duplicates: int = 0
    conflicts: int = 0
    invalid: int = 0
    unknown_response: int = 0
    labels_stored: int = 0
    #: labelled imports only: records whose id was taken by other content, stored as ID#hash
    rekeyed: int = 0
    redactions: dict[str, int] = field(default_factory=dict)
    errors: list[RecordError] = field(default_factory=list)
    rolled_back: bool = False
    #: stopped by Ctrl-C or SIGTERM: the complete batches before it are stored
    interrupted: bool = False
    #: In-memory ingests only (HTTP, SDK): one entry per input record, in order — the id it is
    #: stored under (new or already there), or None if it was rejected or rolled back.
    ids: list[str | None] = field(default_factory=list)

    @property
    def rejected(self) -> int:
        return self.invalid + self.conflicts + self.unknown_response

    @property
    def status(self) -> str:
        """How the ingest ended, as its audit row records it."""
        if self.interrupted:
            return "interrupted"
        return "rolled_back" if self.rolled_back else "completed"
