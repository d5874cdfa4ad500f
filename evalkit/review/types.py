"""Domain types of the review stage: what its functions return (never rows or sessions).

Kept free of imports from the rest of the stage so the store can build them (storage rows are
mapped to these in ``evalkit.store``) without an import cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from evalkit.errors import EvalkitError
from evalkit.records import ResponseRecord

ROLES = ("reviewer", "adjudicator", "admin")


class LeaseLost(EvalkitError):
    """A submit, renew or release by a reviewer who no longer holds the item's lease (it
    expired, was released, or the item has all its reviews). Nothing was stored; HTTP 409."""


class Forbidden(EvalkitError):
    """The reviewer's role does not allow this (adjudicating without the role); HTTP 403."""


@dataclass(frozen=True)
class Reviewer:
    """An account. ``tenants`` None: every tenant; otherwise only items of those tenants."""

    id: int
    username: str
    role: str
    tenants: tuple[str, ...] | None
    display_name: str | None = None
    active: bool = True
    has_password: bool = False

    def sees(self, tenant: str | None) -> bool:
        return self.tenants is None or (tenant is not None and tenant in self.tenants)

    @property
    def can_adjudicate(self) -> bool:
        return self.role in ("adjudicator", "admin")


@dataclass(frozen=True)
class NewItem:
    """A response chosen for review, as a sampling strategy or the guard hands it to the queue."""

    response_id: str
    strategy: str
    inclusion_probability: float
    stratum: str | None = None
    priority: int = 0
    due_at: datetime | None = None
    required_reviews: int = 1
    reason: str | None = None
    #: gold items only: the expected answer per head
    gold: dict[str, str] | None = None


@dataclass(frozen=True)
class EnqueueResult:
    """What reached the queue: ``added`` new item ids, ``already`` response ids queued before,
    ``missing`` response ids the store does not hold (nothing queued for them)."""

    added: tuple[int, ...]
    already: tuple[str, ...]
    missing: tuple[str, ...] = ()


@dataclass(frozen=True)
class QueueItem:
    """An item leased to a reviewer: the response to review and until when the lease runs.

    Blind: it says how many reviews the item needs, never what anyone else answered. Whether it
    is a gold item is not said either, so gold items measure accuracy under normal conditions.
    """

    item_id: int
    queue: str
    response: ResponseRecord
    strategy: str
    stratum: str | None
    priority: int
    due_at: datetime | None
    lease_expires_at: datetime
    required_reviews: int
    created_at: datetime

    def overdue(self, now: datetime) -> bool:
        return self.due_at is not None and self.due_at < now


@dataclass(frozen=True)
class OpenItem:
    """A pending item that still needs reviews (``open_items``): what a labelling tool outside
    evalkit (Label Studio) is given to label."""

    item_id: int
    queue: str
    response: ResponseRecord
    strategy: str
    stratum: str | None
    priority: int
    due_at: datetime | None
    required_reviews: int
    reviews_done: int
    created_at: datetime


@dataclass(frozen=True)
class SubmitResult:
    """A stored submission: its id and version (1 for the first, more for edits)."""

    submission_id: int
    item_id: int
    version: int
    item_status: str
    created_at: datetime


@dataclass(frozen=True)
class ReviewerProgress:
    username: str
    submitted: int
    in_progress: int
    skipped: int
    seconds: float


@dataclass(frozen=True)
class QueueStatus:
    """Where a queue stands; ``overdue`` counts open items past their due time."""

    queue: str | None
    pending: int
    in_progress: int
    done: int
    disputed: int
    adjudicated: int
    overdue: int
    gold: int
    reviewers: tuple[ReviewerProgress, ...] = ()
    oldest_due_at: datetime | None = None


@dataclass(frozen=True)
class LabelVersion:
    """One stored label of one head: a reviewer's (or adjudicator's, or imported) answer."""

    label_id: int
    response_id: str
    head: str
    value: str
    annotator: str
    source_kind: str  # import | review | adjudication | gold
    created_at: datetime
    current: bool
    reviewer_id: int | None = None
    submission_id: int | None = None
    item_id: int | None = None
    severity: int | None = None
    span: str | None = None
    category: str | None = None
    off_brand: bool | None = None
    note: str | None = None
    details: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class FinalLabel:
    """The one answer for (response, head) that training and estimates read.

    ``value``: the reviewers' value (``yes``, ``high``, ``impolite``; ``true``/``false`` for an
    imported label), None for an unresolved disagreement. ``positive``: the binary view
    (docs/architecture.md), None when there is no decision.
    """

    response_id: str
    head: str
    value: str | None
    positive: bool | None
    source: str  # single | consensus | adjudicated | imported
    reviewers: int
    decided_at: datetime


@dataclass(frozen=True)
class DisputedItem:
    """An item whose reviewers disagree, with what each said (for the adjudicator only)."""

    item_id: int
    queue: str
    response: ResponseRecord
    labels: tuple[LabelVersion, ...]
    disagreeing_heads: tuple[str, ...]
