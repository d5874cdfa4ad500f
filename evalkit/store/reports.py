"""Read-side summaries of the store, and the ingest audit trail."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Subquery, func, insert, or_, select

from evalkit.records import FeedbackKind, IngestReport
from evalkit.store.database import Database
from evalkit.store.mappers import aware
from evalkit.store.tables import FEEDBACK, INGEST_RUNS, LABELS, RESPONSES


@dataclass(frozen=True)
class ModelSummary:
    model_id: str
    responses: int
    mean_latency_ms: float | None
    p95_latency_ms: float | None
    total_cost: float | None
    mean_confidence: float | None
    outcomes: dict[str, int]


@dataclass(frozen=True)
class StoreSummary:
    responses: int
    first_at: datetime | None
    last_at: datetime | None
    models: list[ModelSummary]
    intents: dict[str, int]
    tenants: dict[str, int]
    feedback: dict[str, int]
    labels: dict[str, dict[str, int]] = field(default_factory=dict)  # head -> value -> count


def record_ingest_run(
    db: Database,
    *,
    source: str,
    kind: str,
    started_at: datetime,
    finished_at: datetime,
    report: IngestReport,
) -> None:
    with db.transaction() as conn:
        conn.execute(
            insert(INGEST_RUNS).values(
                source=source[:1024],
                kind=kind,
                started_at=started_at,
                finished_at=finished_at,
                read=report.read,
                stored=report.stored,
                duplicates=report.duplicates,
                rejected=report.rejected,
                redactions=report.redactions,
                status=report.status,
            )
        )


def summarize(db: Database) -> StoreSummary:
    """Counts and per-model figures for the CLI summary (and, later, the dashboards)."""
    r = RESPONSES.c
    with db.reader() as conn:
        total, first, last = conn.execute(
            select(func.count(), func.min(r.created_at), func.max(r.created_at))
        ).one()
        model_rows = conn.execute(
            select(
                r.model_id,
                func.count(),
                func.avg(r.latency_ms),
                func.sum(r.cost),
                func.avg(r.confidence),
            )
            .group_by(r.model_id)
            .order_by(func.count().desc())
        ).all()
        outcome = current_outcome()
        outcome_rows = conn.execute(
            select(r.model_id, outcome.c.outcome, func.count())
            .join(outcome, outcome.c.response_id == r.id)
            .group_by(r.model_id, outcome.c.outcome)
        ).all()
        models = []
        for model_id, n, mean_latency, cost, confidence in model_rows:
            latencies = (
                conn.execute(
                    select(r.latency_ms).where(
                        _eq_or_null(r.model_id, model_id), r.latency_ms.is_not(None)
                    )
                )
                .scalars()
                .all()
            )
            models.append(
                ModelSummary(
                    model_id=model_id or "(none)",
                    responses=n,
                    mean_latency_ms=mean_latency,
                    p95_latency_ms=_quantile(sorted(latencies), 0.95),
                    total_cost=cost,
                    mean_confidence=confidence,
                    outcomes={o: c for m, o, c in outcome_rows if m == model_id},
                )
            )
        intents: dict[str, int] = dict(
            conn.execute(
                select(func.coalesce(r.intent, "(none)"), func.count()).group_by(r.intent)
            ).all()
        )
        tenants: dict[str, int] = dict(
            conn.execute(
                select(func.coalesce(r.tenant, "(none)"), func.count()).group_by(r.tenant)
            ).all()
        )
        f = FEEDBACK.c
        feedback: dict[str, int] = dict(
            conn.execute(select(f.kind, func.count()).group_by(f.kind)).all()
        )
        lab = LABELS.c
        labels: dict[str, dict[str, int]] = {}
        for head, value, n in conn.execute(
            select(lab.head, lab.value, func.count())
            .where(lab.current.is_(True))
            .group_by(lab.head, lab.value)
        ):
            labels.setdefault(head, {})[value] = n
    return StoreSummary(
        responses=total,
        first_at=aware(first),
        last_at=aware(last),
        models=models,
        intents=intents,
        tenants=tenants,
        feedback=feedback,
        labels=labels,
    )


def current_outcome() -> Subquery:
    """``(response_id, outcome)`` of every response whose business outcome is known.

    The outcome usually arrives after the response, as an ``outcome`` feedback event; the latest
    such event (by its time; at the same time, the one received last; then its id) wins over an
    earlier one and over the outcome given at capture, which counts only when no event came. A
    summary that read ``responses.outcome`` alone would miss most outcomes.
    """
    f, r = FEEDBACK.c, RESPONSES.c
    ranked = (
        select(
            f.response_id,
            f.value,
            func.row_number()
            .over(
                partition_by=f.response_id,
                order_by=(f.created_at.desc(), f.received_at.desc(), f.id.desc()),
            )
            .label("rank"),
        )
        .where(f.kind == FeedbackKind.OUTCOME.value)
        .subquery()
    )
    latest = select(ranked.c.response_id, ranked.c.value).where(ranked.c.rank == 1).subquery()
    return (
        select(r.id.label("response_id"), func.coalesce(latest.c.value, r.outcome).label("outcome"))
        .outerjoin(latest, latest.c.response_id == r.id)
        .where(or_(latest.c.value.is_not(None), r.outcome.is_not(None)))
        .subquery()
    )


def _eq_or_null(column: Any, value: Any) -> Any:
    return column.is_(None) if value is None else column == value


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    index = min(len(values) - 1, max(0, round(q * (len(values) - 1))))
    return values[index]
