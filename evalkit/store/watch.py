"""What the watch stage reads and writes: traffic facts for estimates, alert state and history.

Reads return pandas frames of plain columns (no text unless asked for, so a window of traffic
stays small); the alert functions keep ``watch_alerts`` and ``watch_alert_events`` in step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, select, update

from evalkit.records import utcnow
from evalkit.store.database import Database
from evalkit.store.mappers import aware
from evalkit.store.tables import (
    FEEDBACK,
    GATE_RUNS,
    GUARD_VERDICTS,
    RESPONSES,
    REVIEW_ITEMS,
    REVIEW_SUBMISSIONS,
    WATCH_ALERT_EVENTS,
    WATCH_ALERTS,
)

TRAFFIC_COLUMNS = (
    "id",
    "created_at",
    "tenant",
    "model_id",
    "model_version",
    "prompt_version",
    "intent",
    "user_segment",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost",
    "outcome",
)


def _utc(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    for column in columns:
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def traffic(db: Database, *, since: datetime | None = None, until: datetime | None = None):
    """One row per response created in ``[since, until)``: its dimensions, usage, text lengths,
    and its outcome (a late outcome event overrides the one captured with it, the latest wins).
    """
    t = RESPONSES
    cols = [t.c[name] for name in TRAFFIC_COLUMNS]
    stmt = select(
        *cols,
        func.length(t.c.prompt).label("prompt_chars"),
        func.length(t.c.response).label("response_chars"),
    )
    if since is not None:
        stmt = stmt.where(t.c.created_at >= since)
    if until is not None:
        stmt = stmt.where(t.c.created_at < until)
    with db.reader() as conn:
        frame = pd.DataFrame(conn.execute(stmt).mappings().all())
        f = FEEDBACK
        late = pd.DataFrame(
            conn.execute(
                select(f.c.response_id, f.c.value, f.c.created_at, f.c.received_at)
                .where(f.c.kind == "outcome")
                .order_by(f.c.created_at, f.c.received_at)
            )
            .mappings()
            .all()
        )
    if frame.empty:
        return pd.DataFrame(columns=[*TRAFFIC_COLUMNS, "prompt_chars", "response_chars"])
    if not late.empty:
        latest = late.drop_duplicates("response_id", keep="last").set_index("response_id")
        frame["outcome"] = frame["id"].map(latest["value"]).fillna(frame["outcome"])
    return _utc(frame, "created_at")


def review_design(db: Database) -> pd.DataFrame:
    """Every review item: response id, queue, strategy, stratum, inclusion probability."""
    r = REVIEW_ITEMS
    stmt = select(
        r.c.response_id, r.c.queue, r.c.strategy, r.c.stratum, r.c.inclusion_probability
    ).order_by(r.c.id)
    with db.reader() as conn:
        rows = conn.execute(stmt).mappings().all()
    return pd.DataFrame(
        rows, columns=["response_id", "queue", "strategy", "stratum", "inclusion_probability"]
    )


def review_seconds(db: Database) -> pd.DataFrame:
    """Seconds reviewers spent per response (every submission, edits included)."""
    s = REVIEW_SUBMISSIONS
    stmt = select(s.c.response_id, func.sum(s.c.seconds).label("seconds")).group_by(s.c.response_id)
    with db.reader() as conn:
        rows = conn.execute(stmt).mappings().all()
    return pd.DataFrame(rows, columns=["response_id", "seconds"])


def guard_scores(db: Database) -> pd.DataFrame:
    """The latest guard verdict per response: decision and one column per head's score."""
    g = GUARD_VERDICTS
    stmt = (
        select(g.c.response_id, g.c.decision, g.c.scores, g.c.classifier_version)
        .where(g.c.response_id.is_not(None))
        .order_by(g.c.created_at, g.c.id)
    )
    with db.reader() as conn:
        rows = conn.execute(stmt).mappings().all()
    if not rows:
        return pd.DataFrame(columns=["response_id", "decision", "classifier_version"])
    frame = pd.DataFrame(rows).drop_duplicates("response_id", keep="last")
    scores = pd.json_normalize(frame["scores"].map(lambda s: s or {})).add_prefix("score_")
    return pd.concat([frame.drop(columns="scores").reset_index(drop=True), scores], axis=1)


def gate_runs(db: Database) -> pd.DataFrame:
    """Gate runs as release markers: suite, candidate, baseline, passed, finished_at."""
    g = GATE_RUNS
    stmt = select(g.c.suite, g.c.candidate, g.c.baseline, g.c.passed, g.c.finished_at)
    with db.reader() as conn:
        rows = conn.execute(stmt.order_by(g.c.finished_at)).mappings().all()
    frame = pd.DataFrame(rows, columns=["suite", "candidate", "baseline", "passed", "finished_at"])
    return _utc(frame, "finished_at")


def texts(db: Database, ids: Sequence[str]) -> pd.DataFrame:
    """Prompt and response text of the given responses (for embeddings and examples)."""
    t = RESPONSES
    out: list[Any] = []
    with db.reader() as conn:
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            stmt = select(t.c.id, t.c.prompt, t.c.response).where(t.c.id.in_(chunk))
            out.extend(conn.execute(stmt).mappings().all())
    return pd.DataFrame(out, columns=["id", "prompt", "response"])


def response_flags(db: Database, ids: Sequence[str], flag: Callable[[str], bool]) -> pd.Series:
    """``flag(response text)`` for each of ``ids``, as a boolean Series indexed by id.

    Texts are read and judged a chunk at a time, so a window's text is never held at once.
    """
    t = RESPONSES
    out: dict[str, bool] = {}
    with db.reader() as conn:
        for start in range(0, len(ids), 1000):
            chunk = list(ids[start : start + 1000])
            for row in conn.execute(select(t.c.id, t.c.response).where(t.c.id.in_(chunk))):
                out[row.id] = bool(flag(row.response or ""))
    return pd.Series(out, dtype=bool)


@dataclass(frozen=True)
class Alert:
    """One alert as stored."""

    id: int
    key: str
    rule: str
    cell: dict[str, Any]
    status: str
    state: str
    value: float | None
    message: str
    owner: str | None
    action: str | None
    opened_at: datetime
    last_seen_at: datetime
    closed_at: datetime | None
    notified_at: datetime | None
    notify_attempts: int


def _alert(row: Any) -> Alert:
    m = dict(row)
    for name in ("opened_at", "last_seen_at", "closed_at", "notified_at"):
        m[name] = aware(m[name])
    return Alert(**m)


def alerts(db: Database, *, status: str | None = None, limit: int = 200) -> list[Alert]:
    """Alerts, newest first; ``status`` ``open`` or ``closed`` to filter."""
    a = WATCH_ALERTS
    stmt = select(a).order_by(a.c.opened_at.desc(), a.c.id.desc()).limit(limit)
    if status is not None:
        stmt = stmt.where(a.c.status == status)
    with db.reader() as conn:
        return [_alert(row) for row in conn.execute(stmt).mappings()]


def alert_events(db: Database, alert_id: int) -> list[dict[str, Any]]:
    e = WATCH_ALERT_EVENTS
    stmt = select(e.c.at, e.c.kind, e.c.value, e.c.detail).where(e.c.alert_id == alert_id)
    with db.reader() as conn:
        rows = conn.execute(stmt.order_by(e.c.id)).mappings().all()
    return [{**dict(r), "at": aware(r["at"])} for r in rows]


def open_alert(db: Database, *, key: str, rule: str, cell: dict[str, Any], state: str,
               value: float | None, message: str, owner: str | None, action: str | None,
               at: datetime | None = None) -> Alert:  # fmt: skip
    """The open alert of ``key``, opened now if there is none (then with an ``opened`` event);
    an already open one is refreshed (value, message, last seen), never duplicated."""
    at = at or utcnow()
    a = WATCH_ALERTS
    with db.transaction() as conn:
        row = conn.execute(
            select(a).where(a.c.key == key, a.c.status == "open").order_by(a.c.id.desc())
        ).first()
        fields = {"state": state, "value": value, "message": message, "last_seen_at": at}
        if row is not None:
            conn.execute(update(a).where(a.c.id == row.id).values(**fields))
            alert_id = row.id
        else:
            inserted = conn.execute(
                a.insert().values(
                    key=key,
                    rule=rule,
                    cell=cell,
                    status="open",
                    owner=owner,
                    action=action,
                    opened_at=at,
                    closed_at=None,
                    notified_at=None,
                    notify_attempts=0,
                    **fields,
                )
            ).inserted_primary_key
            assert inserted is not None
            alert_id = inserted[0]
            _event(conn, alert_id, at, "opened", value, message)
        stored = conn.execute(select(a).where(a.c.id == alert_id)).mappings().one()
    return _alert(stored)


def close_alert(db: Database, alert_id: int, *, detail: str, at: datetime | None = None) -> None:
    at = at or utcnow()
    a = WATCH_ALERTS
    with db.transaction() as conn:
        conn.execute(update(a).where(a.c.id == alert_id).values(status="closed", closed_at=at))
        _event(conn, alert_id, at, "closed", None, detail)


def record_delivery(db: Database, alert_id: int, *, ok: bool, detail: str,
                    kind: str = "notified", at: datetime | None = None) -> None:  # fmt: skip
    """Count a webhook attempt; a delivered opening notice sets ``notified_at``."""
    at = at or utcnow()
    a = WATCH_ALERTS
    with db.transaction() as conn:
        values: dict[str, Any] = {"notify_attempts": a.c.notify_attempts + 1}
        if ok and kind == "notified":
            values["notified_at"] = at
        conn.execute(update(a).where(a.c.id == alert_id).values(**values))
        _event(conn, alert_id, at, kind if ok else f"{kind}_failed", None, detail)


def _event(conn: Any, alert_id: int, at: datetime, kind: str, value: float | None,
           detail: str | None) -> None:  # fmt: skip
    conn.execute(
        WATCH_ALERT_EVENTS.insert().values(
            alert_id=alert_id, at=at, kind=kind, value=value, detail=detail
        )
    )
