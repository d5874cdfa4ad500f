"""SQLAlchemy table definitions: the only description of the schema besides the migrations.

A test compares these with the Alembic migrations, so a change here without a migration fails CI.
Timestamps are stored timezone-aware where the database supports it (PostgreSQL) and as UTC
naive values in SQLite; ``store.mappers`` makes them aware again on the way out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, cast

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class ResponseRow(Base):
    """A captured production response (after validation and redaction)."""

    __tablename__ = "responses"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    tenant: Mapped[str | None] = mapped_column(String(128), index=True)
    model_id: Mapped[str | None] = mapped_column(String(256), index=True)
    model_version: Mapped[str | None] = mapped_column(String(128))
    prompt_version: Mapped[str | None] = mapped_column(String(128))
    intent: Mapped[str | None] = mapped_column(String(128), index=True)
    user_segment: Mapped[str | None] = mapped_column(String(128))
    prompt: Mapped[str] = mapped_column(Text)
    context: Mapped[str | None] = mapped_column(Text)
    response: Mapped[str] = mapped_column(Text)
    latency_ms: Mapped[float | None] = mapped_column(Float)
    input_tokens: Mapped[int | None] = mapped_column(Integer)
    output_tokens: Mapped[int | None] = mapped_column(Integer)
    cost: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str | None] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    content_hash: Mapped[str] = mapped_column(String(64))


class FeedbackRow(Base):
    """A late event (outcome, rating, correction, comment) attached to a response."""

    __tablename__ = "feedback_events"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    received_at: Mapped[datetime]
    source: Mapped[str | None] = mapped_column(String(128))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON)
    content_hash: Mapped[str] = mapped_column(String(64))


class ReviewerRow(Base):
    """A person who labels (reviewer), settles disagreements (adjudicator) or administers."""

    __tablename__ = "reviewers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(128), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(32), default="reviewer")
    password_hash: Mapped[str | None] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    #: JSON list of the tenants whose items the reviewer may see; NULL = every tenant.
    tenants: Mapped[Any | None] = mapped_column(JSON)


class ReviewerTokenRow(Base):
    """A bearer credential of a reviewer: only the sha256 of the token is kept."""

    __tablename__ = "reviewer_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reviewer_id: Mapped[int] = mapped_column(
        ForeignKey("reviewers.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: api (``evalkit reviewers token``) | session (a reviewer-app login)
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class LabelRow(Base):
    """One judgement of one head of one response; append-only, newer rows supersede older."""

    __tablename__ = "labels"
    __table_args__ = (
        Index("ix_labels_response_head_annotator", "response_id", "head", "annotator"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    response_id: Mapped[str] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"))
    head: Mapped[str] = mapped_column(String(32))
    # Text, not JSON: PostgreSQL cannot group or compare json values. true/false/polite/...
    value: Mapped[str] = mapped_column(String(64))
    severity: Mapped[int | None] = mapped_column(Integer)
    annotator: Mapped[str] = mapped_column(String(256))
    source_kind: Mapped[str] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("labels.id", ondelete="SET NULL"))
    current: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    # Set for labels from the review queue (NULL for imported ones): which submission, by whom,
    # and the head's extra fields (``evalkit.review.schema``); fields without a column of their
    # own are kept in ``details``, so a new schema field needs no migration.
    submission_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_submissions.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("reviewers.id"))
    span: Mapped[str | None] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(64))
    off_brand: Mapped[bool | None] = mapped_column(Boolean)
    details: Mapped[Any | None] = mapped_column(JSON)


class ReviewItemRow(Base):
    """A response selected for human review, with how and how likely it was selected."""

    __tablename__ = "review_items"
    __table_args__ = (
        UniqueConstraint("response_id", "queue"),
        # The claim's scan: open items of a queue in serving order, so the first eligible one
        # ends it (see ``serve_key``).
        Index("ix_review_items_serving", "queue", "status", "serve_key"),
        # The same for a claim from every queue (the reviewer app's default): without it the
        # claim sorted every open item (measured: 5 ms at 600 items, growing with the queue).
        Index("ix_review_items_serving_all", "status", "serve_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    queue: Mapped[str] = mapped_column(String(64), default="default")
    strategy: Mapped[str] = mapped_column(String(32))
    stratum: Mapped[str | None] = mapped_column(String(256))
    inclusion_probability: Mapped[float] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    required_reviews: Mapped[int] = mapped_column(Integer, default=1)
    lease_owner_id: Mapped[int | None] = mapped_column(
        ForeignKey("reviewers.id", ondelete="SET NULL")
    )
    lease_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    #: the response's tenant, copied at enqueue so a reviewer's tenant filter needs no join
    tenant: Mapped[str | None] = mapped_column(String(128), index=True)
    #: submissions counted toward ``required_reviews`` (never more: the claim and the submit
    #: check it with the item row locked)
    reviews_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: why a targeted item was queued (the guard's reason, a rule's name)
    reason: Mapped[str | None] = mapped_column(String(256))
    #: for gold items (``strategy`` = gold): the expected answers, head → value
    gold: Mapped[Any | None] = mapped_column(JSON)
    #: serving order as one ascending text key: priority (high first), due time (soonest
    #: first, none last), age, response id (``store.queue.serve_key``). One key, so an index
    #: can hand the claim its candidates in order: mixed ASC/DESC with NULLS LAST cannot.
    serve_key: Mapped[str] = mapped_column(String(200), server_default="")


class ReviewAssignmentRow(Base):
    """One reviewer's lease on (then submission for) one review item.

    Unique per (item, reviewer): the store never serves an item twice to the same reviewer.
    """

    __tablename__ = "review_assignments"
    __table_args__ = (
        UniqueConstraint("review_item_id", "reviewer_id"),
        Index("ix_review_assignments_reviewer_status", "reviewer_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id", ondelete="CASCADE"))
    #: leased | submitted | released (skipped) | expired
    status: Mapped[str] = mapped_column(String(16))
    leased_at: Mapped[datetime]
    lease_expires_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]


class ReviewSubmissionRow(Base):
    """One version of what a reviewer (or adjudicator) said about an item; append-only.

    Its per-head labels are ``labels`` rows pointing here. An edit is a new version that
    supersedes the previous one (``current`` marks the live version).
    """

    __tablename__ = "review_submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    review_item_id: Mapped[int] = mapped_column(
        ForeignKey("review_items.id", ondelete="CASCADE"), index=True
    )
    response_id: Mapped[str] = mapped_column(
        ForeignKey("responses.id", ondelete="CASCADE"), index=True
    )
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("reviewers.id"), index=True)
    #: review | adjudication | gold (an answer to a gold item, kept out of final labels)
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=1)
    supersedes_id: Mapped[int | None] = mapped_column(
        ForeignKey("review_submissions.id", ondelete="SET NULL")
    )
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    correction: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime]
    #: where it was made when not in evalkit's queue (``labelstudio``), and that source's id of
    #: the exact version imported: unique, so the same annotation is never stored twice
    source: Mapped[str | None] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(256), unique=True, index=True)


class SamplingRuleRow(Base):
    """Bookkeeping of one continuous-sampling policy rule: what it has considered so far."""

    __tablename__ = "sampling_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    queue: Mapped[str] = mapped_column(String(64))
    #: the rule as last run; a changed design under the same name is refused (it would break
    #: the inclusion probabilities of what it sampled before)
    spec: Mapped[Any] = mapped_column(JSON)
    #: responses received up to here (and periods ending by here) have been considered
    considered_through: Mapped[datetime | None]
    runs: Mapped[int] = mapped_column(Integer, default=0)
    considered: Mapped[int] = mapped_column(Integer, default=0)
    selected: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime]


class ClassifierVersionRow(Base):
    """A trained risk-classifier artifact and its held-out report."""

    __tablename__ = "classifier_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64), unique=True)
    heads: Mapped[Any] = mapped_column(JSON)
    artifact_path: Mapped[str] = mapped_column(String(1024))
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    thresholds: Mapped[Any] = mapped_column(JSON)
    metrics: Mapped[Any] = mapped_column(JSON)
    trained_at: Mapped[datetime]
    active: Mapped[bool] = mapped_column(Boolean, default=False)


class GuardVerdictRow(Base):
    """What the guard decided for one response before it was sent."""

    __tablename__ = "guard_verdicts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # Not a foreign key: the guard runs before the response is captured, if it ever is.
    response_id: Mapped[str | None] = mapped_column(String(128), index=True)
    classifier_version: Mapped[str] = mapped_column(String(64))
    scores: Mapped[Any] = mapped_column(JSON)
    decision: Mapped[str] = mapped_column(String(16))
    latency_ms: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(index=True)


class GateRunRow(Base):
    """One golden-set regression run of a candidate against a baseline."""

    __tablename__ = "gate_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    suite: Mapped[str] = mapped_column(String(256))
    candidate: Mapped[str] = mapped_column(String(256))
    baseline: Mapped[str | None] = mapped_column(String(256))
    passed: Mapped[bool] = mapped_column(Boolean)
    summary: Mapped[Any] = mapped_column(JSON)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]


class IngestRunRow(Base):
    """An audit line for every ingest: what came in, from where, and what was turned away."""

    __tablename__ = "ingest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(1024))
    kind: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    read: Mapped[int] = mapped_column(Integer)
    stored: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    redactions: Mapped[Any] = mapped_column(JSON)
    #: completed | rolled_back (--strict) | interrupted (its complete batches stay stored)
    status: Mapped[str] = mapped_column(String(16), server_default="completed")


class WatchAlertRow(Base):
    """One alert of a watch rule for one cell (model version, intent, ...): open until its
    condition clears, then closed; a later breach opens a new row."""

    __tablename__ = "watch_alerts"
    __table_args__ = (Index("ix_watch_alerts_key_status", "key", "status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    #: rule name and cell, e.g. ``hallucination-by-version|model_version=swift-mini-0.9.5``
    key: Mapped[str] = mapped_column(String(512))
    rule: Mapped[str] = mapped_column(String(128))
    cell: Mapped[Any] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16))  # open | closed
    state: Mapped[str] = mapped_column(String(16))  # red (yellow if a rule alerts on it)
    value: Mapped[float | None] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(128))
    action: Mapped[str | None] = mapped_column(String(256))
    opened_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    #: when the webhook accepted the opening notice; None while it is still to be delivered
    notified_at: Mapped[datetime | None]
    notify_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class WatchAlertEventRow(Base):
    """The history of an alert: opened, notified, delivery failed, still open, closed."""

    __tablename__ = "watch_alert_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("watch_alerts.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(32))
    value: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[str | None] = mapped_column(Text)


def _table(model: type[Base]) -> Table:
    return cast(Table, model.__table__)


# Core handles on the tables, for the bulk statements the repository functions use.
RESPONSES = _table(ResponseRow)
FEEDBACK = _table(FeedbackRow)
LABELS = _table(LabelRow)
REVIEWERS = _table(ReviewerRow)
REVIEW_ITEMS = _table(ReviewItemRow)
REVIEWER_TOKENS = _table(ReviewerTokenRow)
REVIEW_ASSIGNMENTS = _table(ReviewAssignmentRow)
REVIEW_SUBMISSIONS = _table(ReviewSubmissionRow)
SAMPLING_RULES = _table(SamplingRuleRow)
CLASSIFIER_VERSIONS = _table(ClassifierVersionRow)
GUARD_VERDICTS = _table(GuardVerdictRow)
GATE_RUNS = _table(GateRunRow)
INGEST_RUNS = _table(IngestRunRow)
WATCH_ALERTS = _table(WatchAlertRow)
WATCH_ALERT_EVENTS = _table(WatchAlertEventRow)
