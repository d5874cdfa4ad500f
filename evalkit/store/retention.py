"""Retention: deleting captured data past its age limit, with everything attached to it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select

from evalkit.store.database import Database
from evalkit.store.tables import FEEDBACK, LABELS, RESPONSES, REVIEW_ITEMS


@dataclass(frozen=True)
class PurgeResult:
    responses: int
    feedback: int
    labels: int
    review_items: int
    dry_run: bool


def purge_before(
    db: Database, cutoff: datetime, *, keep_labelled: bool = False, dry_run: bool = False
) -> PurgeResult:
    """Delete responses created before ``cutoff`` and their feedback, labels and review items.

    Age is the response's ``created_at`` (when the personal data came into being), not when it
    was ingested. ``keep_labelled`` spares responses with at least one label: they are training
    and evaluation data, often kept under a different policy.
    """
    r, f, lab, q = (t.c for t in (RESPONSES, FEEDBACK, LABELS, REVIEW_ITEMS))
    doomed = select(r.id).where(r.created_at < cutoff)
    if keep_labelled:
        doomed = doomed.where(~r.id.in_(select(lab.response_id)))
    with db.transaction() as conn:
        counts = {
            name: conn.execute(select(func.count()).where(col.in_(doomed))).scalar_one()
            for name, col in (
                ("responses", r.id),
                ("feedback", f.response_id),
                ("labels", lab.response_id),
                ("review_items", q.response_id),
            )
        }
        if not dry_run:
            # Explicit child deletes, so the purge does not depend on FK cascades being enabled.
            for table, col in (
                (FEEDBACK, f.response_id),
                (LABELS, lab.response_id),
                (REVIEW_ITEMS, q.response_id),
            ):
                conn.execute(delete(table).where(col.in_(doomed)))
            conn.execute(delete(RESPONSES).where(r.id.in_(doomed)))
    return PurgeResult(dry_run=dry_run, **counts)
