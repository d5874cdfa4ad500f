"""Read-only views of the queue: where it stands, per reviewer, and the disputed items."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from evalkit.records import ResponseRecord
from evalkit.review.types import OpenItem, QueueStatus, Reviewer, ReviewerProgress
from evalkit.store.database import Database
from evalkit.store.mappers import aware, response_from_row
from evalkit.store.queue import item_with_response
from evalkit.store.tables import (
    REVIEW_ASSIGNMENTS,
    REVIEW_ITEMS,
    REVIEW_SUBMISSIONS,
    REVIEWERS,
)

IT, A, S, R = REVIEW_ITEMS, REVIEW_ASSIGNMENTS, REVIEW_SUBMISSIONS, REVIEWERS


def _scope(stmt: Any, queue: str | None, viewer: Reviewer | None) -> Any:
    if queue is not None:
        stmt = stmt.where(IT.c.queue == queue)
    if viewer is not None and viewer.tenants is not None:
        stmt = stmt.where(IT.c.tenant.in_(viewer.tenants))
    return stmt


def status(
    db: Database, *, queue: str | None, viewer: Reviewer | None, now: datetime
) -> QueueStatus:
    with db.reader() as conn:
        counts = dict(
            conn.execute(
                _scope(
                    select(IT.c.status, func.count()).where(IT.c.strategy != "gold"), queue, viewer
                ).group_by(IT.c.status)
            ).all()
        )
        gold = conn.execute(
            _scope(select(func.count()).where(IT.c.strategy == "gold"), queue, viewer)
        ).scalar_one()
        overdue, oldest = conn.execute(
            _scope(
                select(func.count(), func.min(IT.c.due_at)).where(
                    IT.c.status == "pending", IT.c.strategy != "gold", IT.c.due_at < now
                ),
                queue,
                viewer,
            )
        ).one()
        live = conn.execute(
            _scope(
                select(func.count())
                .select_from(A)
                .join(IT, IT.c.id == A.c.review_item_id)
                .where(A.c.status == "leased", A.c.lease_expires_at > now),
                queue,
                viewer,
            )
        ).scalar_one()
        per = conn.execute(
            _scope(
                select(R.c.username, A.c.status, func.count())
                .select_from(A)
                .join(IT, IT.c.id == A.c.review_item_id)
                .join(R, R.c.id == A.c.reviewer_id)
                .where((A.c.status != "leased") | (A.c.lease_expires_at > now)),
                queue,
                viewer,
            ).group_by(R.c.username, A.c.status)
        ).all()
        seconds = dict(
            conn.execute(
                _scope(
                    select(R.c.username, func.coalesce(func.sum(S.c.seconds), 0.0))
                    .select_from(S)
                    .join(IT, IT.c.id == S.c.review_item_id)
                    .join(R, R.c.id == S.c.reviewer_id)
                    .where(S.c.current.is_(True)),
                    queue,
                    viewer,
                ).group_by(R.c.username)
            ).all()
        )
    progress: dict[str, dict[str, int]] = {}
    for username, state, count in per:
        progress.setdefault(username, {})[state] = count
    reviewers = tuple(
        ReviewerProgress(
            username=name,
            submitted=states.get("submitted", 0),
            in_progress=states.get("leased", 0),
            skipped=states.get("released", 0),
            seconds=float(seconds.get(name, 0.0)),
        )
        for name, states in sorted(progress.items())
    )
    return QueueStatus(
        queue=queue,
        pending=counts.get("pending", 0),
        in_progress=live,
        done=counts.get("done", 0),
        disputed=counts.get("disputed", 0),
        adjudicated=counts.get("adjudicated", 0),
        overdue=overdue,
        gold=gold,
        reviewers=reviewers,
        oldest_due_at=aware(oldest),
    )


def disputed(
    db: Database, viewer: Reviewer, *, queue: str | None, limit: int
) -> list[tuple[int, str, ResponseRecord]]:
    """(item id, queue, response) of the disputed items ``viewer`` may see, in serving order
    (priority, then age)."""
    stmt = (
        _scope(
            item_with_response().where(IT.c.status == "disputed"),
            queue,
            viewer,
        )
        .order_by(IT.c.priority.desc(), IT.c.created_at, IT.c.id)
        .limit(limit)
    )
    with db.reader() as conn:
        return [
            (row._mapping["item_id"], row._mapping["queue"], response_from_row(row._mapping))
            for row in conn.execute(stmt)
        ]


def open_items(
    db: Database, *, queue: str | None, viewer: Reviewer | None, limit: int | None
) -> list[OpenItem]:
    """Pending, non-gold items that still need reviews, in serving order (priority, due time,
    age), with their responses."""
    stmt = _scope(
        item_with_response(IT.c.reviews_done).where(
            IT.c.status == "pending",
            IT.c.strategy != "gold",
            IT.c.reviews_done < IT.c.required_reviews,
        ),
        queue,
        viewer,
    ).order_by(IT.c.serve_key, IT.c.id)
    if limit is not None:
        stmt = stmt.limit(limit)
    with db.reader() as conn:
        rows = [row._mapping for row in conn.execute(stmt)]
    return [
        OpenItem(
            item_id=m["item_id"],
            queue=m["queue"],
            response=response_from_row(m),
            strategy=m["strategy"],
            stratum=m["stratum"],
            priority=m["priority"],
            due_at=aware(m["due_at"]),
            required_reviews=m["required_reviews"],
            reviews_done=m["reviews_done"],
            created_at=aware(m["item_created_at"]),  # type: ignore[arg-type]
        )
        for m in rows
    ]
