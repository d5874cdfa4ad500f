"""The admin pages' model: queue state and reviewer work as tables ready to chart.

Each function returns a pandas DataFrame (or a small dataclass) with the columns the page
charts, so the page is ``st.bar_chart(frame, x=..., y=...)`` and the numbers are tested here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from evalkit import review
from evalkit.review import QueueStatus, Reviewer
from evalkit.review.agreement import AgreementReport, agreement_report
from evalkit.store.database import Database


@dataclass(frozen=True)
class Overview:
    """The headline numbers of the queue page."""

    open_items: int
    pending: int
    in_progress: int
    overdue: int
    done: int
    disputed: int
    adjudicated: int
    gold: int
    oldest_due_at: datetime | None


def status(db: Database, viewer: Reviewer, *, now: datetime) -> QueueStatus:
    """The queue as ``viewer`` may see it (an admin bound to tenants sees only theirs)."""
    return review.queue_status(db, reviewer=viewer, now=now)


def overview(qs: QueueStatus) -> Overview:
    return Overview(
        open_items=qs.pending + qs.in_progress,
        pending=qs.pending,
        in_progress=qs.in_progress,
        overdue=qs.overdue,
        done=qs.done,
        disputed=qs.disputed,
        adjudicated=qs.adjudicated,
        gold=qs.gold,
        oldest_due_at=qs.oldest_due_at,
    )


def status_counts(qs: QueueStatus) -> pd.DataFrame:
    """Items per status, for a bar chart (gold items apart: they never reach final labels)."""
    rows = [
        ("pending", qs.pending),
        ("in progress", qs.in_progress),
        ("disputed", qs.disputed),
        ("done", qs.done),
        ("adjudicated", qs.adjudicated),
    ]
    return pd.DataFrame(rows, columns=["status", "items"])


def reviewer_work(qs: QueueStatus) -> pd.DataFrame:
    """Per reviewer: items submitted, skipped, in hand, and mean seconds per submitted item."""
    rows = [
        {
            "reviewer": p.username,
            "submitted": p.submitted,
            "skipped": p.skipped,
            "in progress": p.in_progress,
            "seconds per item": round(p.seconds / p.submitted, 1) if p.submitted else None,
        }
        for p in qs.reviewers
    ]
    columns = ["reviewer", "submitted", "skipped", "in progress", "seconds per item"]
    return pd.DataFrame(rows, columns=columns)


def agreement(db: Database) -> AgreementReport:
    """Every agreement figure over the store's current review labels (the review stage's)."""
    return agreement_report(db)


def alpha_per_field(report: AgreementReport) -> pd.DataFrame:
    """Krippendorff's alpha per field over the overlap items; NaN (not computable) left out."""
    rows = [
        {"field": f.field, "alpha": round(f.alpha, 3), "items": f.items, "level": f.level}
        for f in report.fields
        if f.alpha == f.alpha
    ]
    return pd.DataFrame(rows, columns=["field", "alpha", "items", "level"])


def kappa_per_pair(report: AgreementReport) -> pd.DataFrame:
    """Cohen's kappa per reviewer pair and field, on the items both labelled."""
    rows = [
        {
            "pair": f"{p.reviewer_a} · {p.reviewer_b}",
            "field": p.field,
            "kappa": round(p.kappa, 3),
            "items": p.items,
        }
        for p in report.pairs
        if p.kappa == p.kappa
    ]
    return pd.DataFrame(rows, columns=["pair", "field", "kappa", "items"])


def accuracy_per_reviewer(report: AgreementReport) -> pd.DataFrame:
    """Per reviewer: agreement with the consensus and accuracy on gold items (shares, 0–1)."""
    rows = [
        {
            "reviewer": r.username,
            "with consensus": None if r.with_consensus != r.with_consensus else r.with_consensus,
            "gold accuracy": None if r.gold_accuracy != r.gold_accuracy else r.gold_accuracy,
            "gold answers": r.gold_answers,
            "labels": r.labels,
        }
        for r in report.reviewers
    ]
    columns = ["reviewer", "with consensus", "gold accuracy", "gold answers", "labels"]
    return pd.DataFrame(rows, columns=columns)


def depth(db: Database, viewer: Reviewer, *, now: datetime) -> pd.DataFrame:
    """Pending items per cell (priority · strategy · stratum), open and overdue, high first."""
    rows = [
        {
            "cell": f"p{r.priority} · {r.strategy}" + (f" · {r.stratum}" if r.stratum else ""),
            "priority": r.priority,
            "strategy": r.strategy,
            "stratum": r.stratum,
            "open": r.open,
            "overdue": r.overdue,
        }
        for r in review.queue_depth(db, viewer=viewer, now=now)
    ]
    columns = ["cell", "priority", "strategy", "stratum", "open", "overdue"]
    return pd.DataFrame(rows, columns=columns)


def breaches(db: Database, viewer: Reviewer, *, since: datetime, now: datetime) -> pd.DataFrame:
    """Items that missed their due time since ``since``: done late, or still open."""
    rows = [
        {
            "item": b.item_id,
            "queue": b.queue,
            "priority": b.priority,
            "strategy": b.strategy,
            "due at": b.due_at,
            "finished at": b.finished_at,
            "hours late": round(b.late_by.total_seconds() / 3600, 1),
        }
        for b in review.sla_breaches(db, since=since, now=now, viewer=viewer)
    ]
    columns = ["item", "queue", "priority", "strategy", "due at", "finished at", "hours late"]
    return pd.DataFrame(rows, columns=columns)


def throughput(
    db: Database, viewer: Reviewer, *, since: datetime, until: datetime, bucket: str
) -> pd.DataFrame:
    """Counted reviews per reviewer and hour or day, with the median seconds per item."""
    rows = [
        {
            "reviewer": r.reviewer,
            "bucket start": r.bucket_start,
            "submitted": r.submitted,
            "median seconds": r.median_seconds,
        }
        for r in review.throughput(db, since=since, until=until, bucket=bucket, viewer=viewer)
    ]
    return pd.DataFrame(rows, columns=["reviewer", "bucket start", "submitted", "median seconds"])
