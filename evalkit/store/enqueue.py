"""Adding items to the review queue: the serving key, and inserts that skip what is queued.

A response is in a queue at most once (a unique constraint); concurrent enqueues of the same
response leave one item, and the other caller is told it was ``already`` there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects import postgresql, sqlite

from evalkit.errors import UsageError
from evalkit.review.types import EnqueueResult, NewItem
from evalkit.store.database import Database
from evalkit.store.tables import RESPONSES, REVIEW_ITEMS

IT = REVIEW_ITEMS
OPEN = "pending"
_CHUNK = 500


#: ``serve_key`` puts higher priorities first by counting down from here.
_PRIORITY_TOP = 10**7
PRIORITY_BOUND = 10**6


def serve_key(
    priority: int, due_at: datetime | None, created_at: datetime, response_id: str
) -> str:
    """Ascending text key of the serving order: priority high first, due time soonest first
    (none last), then age, then response id (so equal times serve in a stable order)."""
    if not -PRIORITY_BOUND <= priority <= PRIORITY_BOUND:
        raise UsageError(f"priority must be between {-PRIORITY_BOUND} and {PRIORITY_BOUND}")
    due = _utc_text(due_at) if due_at is not None else "~"  # "~" sorts after every digit
    return f"{_PRIORITY_TOP - priority:08d}|{due}|{_utc_text(created_at)}|{response_id}"


def _utc_text(value: datetime) -> str:
    aware_value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware_value.strftime("%Y-%m-%dT%H:%M:%S.%f")


def insert_items(
    db: Database, queue: str, items: Sequence[NewItem], now: datetime
) -> EnqueueResult:
    """Queue ``items``; a response already in ``queue`` is left as it is (``already``)."""
    ids = list(dict.fromkeys(item.response_id for item in items))
    added: list[int] = []
    already: list[str] = []
    with db.transaction() as conn:
        tenants: dict[str, str | None] = {}
        queued: set[str] = set()
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = conn.execute(
                select(RESPONSES.c.id, RESPONSES.c.tenant).where(RESPONSES.c.id.in_(chunk))
            )
            tenants.update((row.id, row.tenant) for row in rows)
            queued.update(
                conn.execute(
                    select(IT.c.response_id).where(IT.c.queue == queue, IT.c.response_id.in_(chunk))
                ).scalars()
            )
        missing = [rid for rid in ids if rid not in tenants]
        seen: set[str] = set()
        for item in items:
            rid = item.response_id
            if rid not in tenants or rid in seen:
                continue
            seen.add(rid)
            if rid in queued:
                already.append(rid)
                continue
            values = _item_values(item, queue, tenants[rid], now)
            new_id = _insert_ignoring_duplicate(conn, values)
            if new_id is None:  # queued by a concurrent enqueue meanwhile
                already.append(rid)
            else:
                added.append(new_id)
    return EnqueueResult(added=tuple(added), already=tuple(already), missing=tuple(missing))


def _item_values(item: NewItem, queue: str, tenant: str | None, now: datetime) -> dict[str, Any]:
    return {
        "response_id": item.response_id,
        "queue": queue,
        "strategy": item.strategy,
        "stratum": item.stratum,
        "inclusion_probability": item.inclusion_probability,
        "priority": item.priority,
        "due_at": item.due_at,
        "status": OPEN,
        "required_reviews": item.required_reviews,
        "created_at": now,
        "tenant": tenant,
        "reviews_done": 0,
        "reason": item.reason,
        "gold": item.gold,
        "serve_key": serve_key(item.priority, item.due_at, now, item.response_id),
    }


def _insert_ignoring_duplicate(conn: Connection, values: dict[str, Any]) -> int | None:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = (
        dialect.insert(IT)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["response_id", "queue"])
        .returning(IT.c.id)
    )
    return conn.execute(stmt).scalar_one_or_none()


def count_overlap(db: Database, item_ids: Sequence[int]) -> int:
    """How many of ``item_ids`` need more than one reviewer."""
    total = 0
    with db.reader() as conn:
        for start in range(0, len(item_ids), _CHUNK):
            chunk = list(item_ids[start : start + _CHUNK])
            total += conn.execute(
                select(func.count()).where(IT.c.id.in_(chunk), IT.c.required_reviews > 1)
            ).scalar_one()
    return total
