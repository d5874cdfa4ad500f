"""Read-only breakdowns of the queue for admins: depth per cell, SLA breaches, throughput."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, or_, select

from evalkit.review.types import Reviewer
from evalkit.store.database import Database
from evalkit.store.mappers import aware
from evalkit.store.queue_views import _scope
from evalkit.store.tables import REVIEW_ASSIGNMENTS, REVIEW_ITEMS, REVIEW_SUBMISSIONS, REVIEWERS

IT, A, S, R = REVIEW_ITEMS, REVIEW_ASSIGNMENTS, REVIEW_SUBMISSIONS, REVIEWERS


def depth(
    db: Database, *, queue: str | None, viewer: Reviewer | None, now: datetime
) -> list[tuple[int, str, str | None, int, int]]:
    """(priority, strategy, stratum, open, overdue) of pending non-gold items, priority high
    first."""
    overdue = func.sum(case((and_(IT.c.due_at.is_not(None), IT.c.due_at < now), 1), else_=0))
    stmt = _scope(
        select(IT.c.priority, IT.c.strategy, IT.c.stratum, func.count(), overdue).where(
            IT.c.status == "pending", IT.c.strategy != "gold"
        ),
        queue,
        viewer,
    ).group_by(IT.c.priority, IT.c.strategy, IT.c.stratum)
    with db.reader() as conn:
        rows = [(p, s, st, int(n), int(o or 0)) for p, s, st, n, o in conn.execute(stmt)]
    return sorted(rows, key=lambda r: (-r[0], r[1], r[2] or ""))


def breaches(
    db: Database, *, since: datetime, now: datetime, viewer: Reviewer | None
) -> list[tuple[int, str, int, str, datetime, datetime | None]]:
    """(item id, queue, priority, strategy, due at, finished at or None) of items due in
    [since, now) that were not finished by then: still pending, or their last counted review
    came after the due time. Oldest due first."""
    finished = (
        select(func.max(A.c.finished_at))
        .where(A.c.review_item_id == IT.c.id, A.c.status == "submitted")
        .scalar_subquery()
    )
    stmt = _scope(
        select(IT.c.id, IT.c.queue, IT.c.priority, IT.c.strategy, IT.c.due_at, finished).where(
            IT.c.strategy != "gold",
            IT.c.due_at.is_not(None),
            IT.c.due_at >= since,
            IT.c.due_at < now,
            or_(IT.c.status == "pending", finished > IT.c.due_at),
        ),
        None,
        viewer,
    ).order_by(IT.c.due_at, IT.c.id)
    with db.reader() as conn:
        return [
            (i, q, p, s, aware(d), aware(f))  # type: ignore[misc]
            for i, q, p, s, d, f in conn.execute(stmt)
        ]


def submissions(
    db: Database, *, since: datetime, until: datetime, viewer: Reviewer | None
) -> list[tuple[str, datetime, float | None]]:
    """(reviewer, created at, seconds) of first submissions (counted reviews, not edits nor
    adjudications) made in [since, until)."""
    stmt = _scope(
        select(R.c.username, S.c.created_at, S.c.seconds)
        .join(R, R.c.id == S.c.reviewer_id)
        .join(IT, IT.c.id == S.c.review_item_id)
        .where(
            S.c.version == 1,
            S.c.kind.in_(("review", "gold")),
            S.c.created_at >= since,
            S.c.created_at < until,
        ),
        None,
        viewer,
    )
    with db.reader() as conn:
        rows: list[Any] = list(conn.execute(stmt))
    return [(u, aware(c), s) for u, c, s in rows]  # type: ignore[misc]
