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
from evalkit.records import ResponseRecord
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


def _insert(conn: Any, run: GateRunRecord) -> int:
    key = conn.execute(insert(GATE_RUNS).values(**_values(run))).inserted_primary_key
    assert key is not None
    return int(key[0])


def record_gate_run(db: Database, run: GateRunRecord) -> int:
    """Store one run; returns its id."""
    with db.transaction() as conn:
        return _insert(conn, run)


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
                return [_insert(conn, r) for r in runs]
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


# --- reads for judge alignment and ``golden add-from-review`` ---------------------------------

#: Ids per IN (...) lookup, well under both databases' parameter limits.
_CHUNK = 2000


def responses_by_id(db: Database, ids: Sequence[str]) -> dict[str, ResponseRecord]:
    """The stored responses among ``ids`` (those purged since are simply absent)."""
    from evalkit.store.mappers import response_from_row
    from evalkit.store.tables import RESPONSES

    out: dict[str, ResponseRecord] = {}
    with db.reader() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            for row in conn.execute(select(RESPONSES).where(RESPONSES.c.id.in_(chunk))):
                out[row.id] = response_from_row(row)
    return out


@dataclass(frozen=True)
class ReviewerNotes:
    """What reviewers wrote about a response beside their labels: the answer it should have
    given (``correction``) and why it failed (``note``; a head's own note if no general one)."""

    correction: str | None
    note: str | None


def reviewer_notes(db: Database, ids: Sequence[str]) -> dict[str, ReviewerNotes]:
    """Per response among ``ids``: the newest current correction and note, an adjudicator's
    preferred over a reviewer's (gold answers are not about the response and are left out)."""
    from evalkit.store.tables import LABELS, REVIEW_SUBMISSIONS

    s, lab = REVIEW_SUBMISSIONS, LABELS
    found: dict[str, tuple[tuple[int, Any, int], str | None, str | None]] = {}
    head_notes: dict[str, str] = {}
    with db.reader() as conn:
        for start in range(0, len(ids), _CHUNK):
            chunk = list(ids[start : start + _CHUNK])
            stmt = select(
                s.c.response_id, s.c.kind, s.c.correction, s.c.note, s.c.created_at, s.c.id
            ).where(
                s.c.response_id.in_(chunk),
                s.c.current.is_(True),
                s.c.kind.in_(("review", "adjudication")),
            )
            for row in conn.execute(stmt):
                if not (row.correction or row.note):
                    continue
                rank = (row.kind == "adjudication", row.created_at, row.id)
                best = found.get(row.response_id)
                if best is None or rank > best[0]:
                    found[row.response_id] = (rank, row.correction, row.note)
            notes = select(lab.c.response_id, lab.c.note).where(
                lab.c.response_id.in_(chunk), lab.c.current.is_(True), lab.c.note.is_not(None)
            )
            for label in conn.execute(notes.order_by(lab.c.id)):
                head_notes.setdefault(label.response_id, label.note)
    out = {rid: ReviewerNotes(c, n or head_notes.get(rid)) for rid, (_, c, n) in found.items()}
    for rid, note in head_notes.items():
        out.setdefault(rid, ReviewerNotes(None, note))
    return out
