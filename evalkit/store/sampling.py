"""The reads sampling needs (the population of a window) and the policy rules' bookkeeping."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import exists, insert, select, update

from evalkit.store.database import Database
from evalkit.store.mappers import aware
from evalkit.store.tables import RESPONSES, REVIEW_ITEMS, SAMPLING_RULES

#: Response columns a sample can be stratified or filtered by.
STRATUM_COLUMNS = (
    "tenant",
    "model_id",
    "model_version",
    "prompt_version",
    "intent",
    "user_segment",
    "outcome",
)


def population(
    db: Database,
    *,
    fields: Sequence[str] = (),
    since: datetime | None = None,
    until: datetime | None = None,
    received_after: datetime | None = None,
    received_until: datetime | None = None,
    tenant: str | None = None,
    model_id: str | None = None,
    intent: str | None = None,
    not_in_queue: str | None = None,
) -> list[dict[str, Any]]:
    """Responses in the window (``created_at`` in [since, until), ``received_at`` in
    (received_after, received_until]) matching the filters, by id, with ``fields`` (response
    columns, or ``metadata.KEY``). ``not_in_queue`` leaves out responses already in that queue."""
    r = RESPONSES.c
    columns = [r.id, r.received_at] + [r[f] for f in fields if f in STRATUM_COLUMNS]
    if any(f.startswith("metadata.") for f in fields):
        columns.append(r.metadata)
    stmt = select(*columns)
    for column, value in (("tenant", tenant), ("model_id", model_id), ("intent", intent)):
        if value is not None:
            stmt = stmt.where(r[column] == value)
    if since is not None:
        stmt = stmt.where(r.created_at >= since)
    if until is not None:
        stmt = stmt.where(r.created_at < until)
    if received_after is not None:
        stmt = stmt.where(r.received_at > received_after)
    if received_until is not None:
        stmt = stmt.where(r.received_at <= received_until)
    if not_in_queue is not None:
        q = REVIEW_ITEMS.c
        stmt = stmt.where(~exists().where(q.response_id == r.id, q.queue == not_in_queue))
    out = []
    with db.reader() as conn:
        for row in conn.execute(stmt.order_by(r.id)):
            m = dict(row._mapping)
            meta = m.pop("metadata", None) or {}
            for f in fields:
                if f.startswith("metadata."):
                    value = meta.get(f.removeprefix("metadata."))
                    m[f] = None if value is None else str(value)
            m["received_at"] = aware(m["received_at"])
            out.append(m)
    return out


def get_rule(db: Database, name: str) -> dict[str, Any] | None:
    with db.reader() as conn:
        row = conn.execute(select(SAMPLING_RULES).where(SAMPLING_RULES.c.name == name)).first()
    if row is None:
        return None
    m = dict(row._mapping)
    m["considered_through"] = aware(m["considered_through"])
    return m


def save_rule(
    db: Database,
    name: str,
    *,
    queue: str,
    spec: dict[str, Any],
    considered_through: datetime | None,
    considered: int,
    selected: int,
    now: datetime,
) -> None:
    """Record a rule's run: what it has considered up to, and running totals."""
    t = SAMPLING_RULES
    with db.transaction() as conn:
        held = conn.execute(select(t.c.id).where(t.c.name == name)).scalar_one_or_none()
        if held is None:
            conn.execute(
                insert(t).values(
                    name=name,
                    queue=queue,
                    spec=spec,
                    considered_through=considered_through,
                    runs=1,
                    considered=considered,
                    selected=selected,
                    updated_at=now,
                )
            )
        else:
            conn.execute(
                update(t)
                .where(t.c.id == held)
                .values(
                    considered_through=considered_through,
                    runs=t.c.runs + 1,
                    considered=t.c.considered + considered,
                    selected=t.c.selected + selected,
                    updated_at=now,
                )
            )


def list_rules(db: Database) -> list[dict[str, Any]]:
    with db.reader() as conn:
        return [dict(r._mapping) for r in conn.execute(select(SAMPLING_RULES).order_by("name"))]


def active_classifier(db: Database) -> dict[str, Any] | None:
    """The active row of ``classifier_versions`` (version, artifact_path, thresholds), if any."""
    from evalkit.store.tables import CLASSIFIER_VERSIONS as C

    with db.reader() as conn:
        row = conn.execute(
            select(C.c.version, C.c.artifact_path, C.c.thresholds).where(C.c.active.is_(True))
        ).first()
    return dict(row._mapping) if row is not None else None


def responses_by_ids(db: Database, ids: Sequence[str]) -> list[Any]:  # ResponseRecord
    """Full response records for ``ids`` (for scoring), in id order."""
    from evalkit.records import ResponseRecord
    from evalkit.store.mappers import response_from_row

    out: list[ResponseRecord] = []
    with db.reader() as conn:
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            rows = conn.execute(select(RESPONSES).where(RESPONSES.c.id.in_(chunk)))
            out.extend(response_from_row(row) for row in rows)
    return sorted(out, key=lambda r: r.id)
