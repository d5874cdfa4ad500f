"""Gate runs: one row per suite per ``evalkit gate`` run, for release markers beside the
production quality dashboards (watch reads them)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, insert, inspect, select
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from evalkit.errors import StoreError
from evalkit.store.mappers import aware
from evalkit.store.tables import GATE_RUNS

if TYPE_CHECKING:
    from evalkit.store.database import Database


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


def _values(run: GateRunRecord) -> dict[str, Any]:
    return {
        "suite": run.suite[:256],
        "candidate": run.candidate[:256],
        "baseline": run.baseline[:256] if run.baseline else None,
        "passed": run.passed,
        "summary": run.summary,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }


def record_gate_run(db: Database, run: GateRunRecord) -> int:
    """Store one run; returns its id."""
    with db.transaction() as conn:
        result = conn.execute(insert(GATE_RUNS).values(**_values(run)))
        return int(result.inserted_primary_key[0])


def record_gate_runs_at(url: str, runs: Sequence[GateRunRecord]) -> list[int]:
    """Store runs in the store at ``url``, for a command that needs the store for nothing else.

    ``evalkit gate`` must finish within a few seconds of process start; opening a ``Database``
    loads Alembic to check the schema revision, which alone takes most of a second. A store that
    already has ``gate_runs`` (every revision has had it, with these columns) gets its INSERTs
    directly; a new or empty store is created and migrated through ``Database.open`` first.
    Raises ``StoreError`` when the store cannot be reached.
    """
    try:
        parsed = make_url(url)
        sqlite = parsed.get_backend_name() == "sqlite"
        if sqlite and parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30} if sqlite else {})
    except (SQLAlchemyError, ImportError, OSError, ValueError) as exc:
        raise StoreError(f"cannot open the store at {url!r}: {exc}") from exc
    try:
        with engine.connect() as conn:
            ready = inspect(conn).has_table(GATE_RUNS.name)
        if ready:
            with engine.begin() as conn:
                return [
                    int(
                        conn.execute(insert(GATE_RUNS).values(**_values(r))).inserted_primary_key[0]
                    )
                    for r in runs
                ]
    except SQLAlchemyError as exc:
        raise StoreError(f"the store at {engine.url!r} failed: {exc}") from exc
    finally:
        engine.dispose()
    from evalkit.store.database import Database

    db = Database.open(url)
    try:
        return [record_gate_run(db, r) for r in runs]
    finally:
        db.dispose()


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
