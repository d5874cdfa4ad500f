"""Gate runs: one row per suite per ``evalkit gate`` run, for release markers beside the
production quality dashboards (watch reads them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from evalkit.store.database import Database
from evalkit.store.mappers import aware
from evalkit.store.tables import GATE_RUNS


@dataclass(frozen=True)
class GateRunRecord:
    """What a stored gate run says: suite, candidate, baseline, verdict, and its summary
    (pass rates overall and by tag, the rules, regressed and fixed case ids)."""

    suite: str
    candidate: str
    baseline: str | None
    passed: bool
    summary: dict[str, Any]
    started_at: datetime
    finished_at: datetime
    id: int | None = None


def record_gate_run(db: Database, run: GateRunRecord) -> int:
    """Store one run; returns its id."""
    with db.transaction() as conn:
        result = conn.execute(
            insert(GATE_RUNS).values(
                suite=run.suite[:256],
                candidate=run.candidate[:256],
                baseline=run.baseline[:256] if run.baseline else None,
                passed=run.passed,
                summary=run.summary,
                started_at=run.started_at,
                finished_at=run.finished_at,
            )
        )
        return int(result.inserted_primary_key[0])


def gate_runs(db: Database, *, suite: str | None = None, limit: int = 100) -> list[GateRunRecord]:
    """The latest runs, newest first (of one suite if given)."""
    t = GATE_RUNS
    stmt = select(t).order_by(t.c.started_at.desc(), t.c.id.desc()).limit(limit)
    if suite is not None:
        stmt = stmt.where(t.c.suite == suite)
    with db.reader() as conn:
        rows = conn.execute(stmt).all()
    return [
        GateRunRecord(
            id=row.id,
            suite=row.suite,
            candidate=row.candidate,
            baseline=row.baseline,
            passed=bool(row.passed),
            summary=row.summary or {},
            started_at=aware(row.started_at),  # type: ignore[arg-type]
            finished_at=aware(row.finished_at),  # type: ignore[arg-type]
        )
        for row in rows
    ]
