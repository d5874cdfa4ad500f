"""Read functions returning domain records (never rows or sessions)."""

from __future__ import annotations

from sqlalchemy import func, select

from evalkit.records import FeedbackEvent, LabelRecord, ResponseRecord
from evalkit.store import mappers
from evalkit.store.database import Database
from evalkit.store.tables import FEEDBACK, LABELS, RESPONSES


def get_response(db: Database, response_id: str) -> ResponseRecord | None:
    with db.reader() as conn:
        row = conn.execute(select(RESPONSES).where(RESPONSES.c.id == response_id)).first()
    return mappers.response_from_row(row) if row is not None else None


def count_responses(db: Database) -> int:
    with db.reader() as conn:
        return conn.execute(select(func.count()).select_from(RESPONSES)).scalar_one()


def response_ids(db: Database) -> list[str]:
    with db.reader() as conn:
        return list(conn.execute(select(RESPONSES.c.id).order_by(RESPONSES.c.id)).scalars())


def feedback_for(db: Database, response_id: str) -> list[FeedbackEvent]:
    t = FEEDBACK
    with db.reader() as conn:
        rows = conn.execute(
            select(t).where(t.c.response_id == response_id).order_by(t.c.created_at, t.c.id)
        )
        return [mappers.feedback_from_row(row) for row in rows]


def labels_for(db: Database, response_id: str, *, history: bool = False) -> list[LabelRecord]:
    """Current labels of a response (every version with ``history``), oldest first."""
    t = LABELS
    stmt = select(t).where(t.c.response_id == response_id)
    if not history:
        stmt = stmt.where(t.c.current.is_(True))
    with db.reader() as conn:
        return [mappers.label_from_row(row) for row in conn.execute(stmt.order_by(t.c.id))]


def count_labels(db: Database, *, annotator: str | None = None) -> int:
    t = LABELS
    stmt = select(func.count()).select_from(t).where(t.c.current.is_(True))
    if annotator is not None:
        stmt = stmt.where(t.c.annotator == annotator)
    with db.reader() as conn:
        return conn.execute(stmt).scalar_one()
