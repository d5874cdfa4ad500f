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
from sqlalchemy import exists, func, or_, select, update

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


#: A slice of the content-hash space, ``(fraction, start)``: the responses whose sha256 falls
#: in ``[start, start + fraction)`` modulo 1 (see ``traffic``).
HashSlice = tuple[float, float]
_HEX = 8  # leading hex digits a slice boundary is given to: 1 part in 4 billion


def _hex(share: float) -> str:
    return f"{min(int(share * 16**_HEX), 16**_HEX - 1):0{_HEX}x}"


def _in_slice(column: Any, part: HashSlice) -> Any:
    """Rows whose hex digest (lowercase, so text order is number order) is in the slice."""
    fraction, start = part
    end = start + fraction
    if end <= 1:
        return (column >= _hex(start)) & (column < _hex(end))
    return or_(column >= _hex(start), column < _hex(end - 1))


def _reviewed(t: Any) -> Any:
    r = REVIEW_ITEMS
    return exists(select(r.c.id).where(r.c.response_id == t.c.id))


def _scope(since: datetime | None, until: datetime | None, part: HashSlice | None = None,
           *, reviewed: bool = False, or_reviewed: bool = False) -> list[Any]:  # fmt: skip
    """Where-clauses on ``responses``: created in ``[since, until)``, in the hash slice (or,
    with ``or_reviewed``, reviewed), only reviewed ones."""
    t = RESPONSES
    where: list[Any] = []
    if since is not None:
        where.append(t.c.created_at >= since)
    if until is not None:
        where.append(t.c.created_at < until)
    if part is not None:
        clause = _in_slice(t.c.content_hash, part)
        where.append(or_(clause, _reviewed(t)) if or_reviewed else clause)
    if reviewed:
        where.append(_reviewed(t))
    return where


def newest_response_at(db: Database) -> datetime | None:
    """When the newest stored response was created (one indexed MAX, not a table read)."""
    with db.reader() as conn:
        newest = conn.execute(select(func.max(RESPONSES.c.created_at))).scalar()
    return None if newest is None else aware(newest)


def count_responses(db: Database, *, since: datetime | None = None,
                    until: datetime | None = None) -> int:  # fmt: skip
    with db.reader() as conn:
        stmt = select(func.count()).select_from(RESPONSES).where(*_scope(since, until))
        return int(conn.execute(stmt).scalar() or 0)


def usage_maxima(db: Database, *, since: datetime | None = None,
                 until: datetime | None = None) -> pd.DataFrame:  # fmt: skip
    """Per model and intent, the largest cost and token count (input + output, a missing side
    counted 0) among the responses created in ``[since, until)``: one aggregate over the whole
    window, so a window read as a sample still reports the traffic's worst case, which no
    sample can estimate (its largest value is only a lower bound)."""
    t = RESPONSES
    tokens = func.coalesce(t.c.input_tokens, 0) + func.coalesce(t.c.output_tokens, 0)
    stmt = (
        select(
            t.c.model_id,
            t.c.intent,
            func.max(t.c.cost).label("cost_max"),
            func.max(tokens).label("tokens_max"),
        )
        .where(*_scope(since, until))
        .group_by(t.c.model_id, t.c.intent)
    )
    with db.reader() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame(rows, columns=["model_id", "intent", "cost_max", "tokens_max"])


def traffic(db: Database, *, since: datetime | None = None, until: datetime | None = None,
            part: HashSlice | None = None, reviewed: bool = False):  # fmt: skip
    """One row per response created in ``[since, until)``: its dimensions, usage, text lengths,
    and its outcome (a late outcome event overrides the one captured with it, the latest wins).

    ``part`` keeps only the responses whose content hash is in a slice of the hash space: a
    sample of known fraction the database draws itself (sha256 digests are uniform), the same
    on SQLite and PostgreSQL, without reading the rows left out. ``reviewed`` keeps only the
    responses with a review item.
    """
    t = RESPONSES
    where = _scope(since, until, part, reviewed=reviewed)
    cols = [t.c[name] for name in TRAFFIC_COLUMNS]
    stmt = select(
        *cols,
        func.length(t.c.prompt).label("prompt_chars"),
        func.length(t.c.response).label("response_chars"),
    ).where(*where)
    with db.reader() as conn:
        frame = pd.DataFrame(conn.execute(stmt).mappings().all())
        f = FEEDBACK
        late = pd.DataFrame(
            conn.execute(
                select(f.c.response_id, f.c.value, f.c.created_at, f.c.received_at)
                .join(t, t.c.id == f.c.response_id)
                .where(f.c.kind == "outcome", *where)
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


def review_design(db: Database, *, since: datetime | None = None,
                  until: datetime | None = None) -> pd.DataFrame:  # fmt: skip
    """Every review item of a response created in ``[since, until)``: response id, queue,
    strategy, stratum, inclusion probability."""
    r, t = REVIEW_ITEMS, RESPONSES
    stmt = select(
        r.c.response_id, r.c.queue, r.c.strategy, r.c.stratum, r.c.inclusion_probability
    ).order_by(r.c.id)
    if since is not None or until is not None:
        stmt = stmt.join(t, t.c.id == r.c.response_id).where(*_scope(since, until))
    with db.reader() as conn:
        rows = conn.execute(stmt).mappings().all()
    return pd.DataFrame(
        rows, columns=["response_id", "queue", "strategy", "stratum", "inclusion_probability"]
    )


def review_seconds(db: Database, *, since: datetime | None = None,
                   until: datetime | None = None) -> pd.DataFrame:  # fmt: skip
    """Seconds reviewers spent per response created in ``[since, until)`` (every submission,
    edits included)."""
    s, t = REVIEW_SUBMISSIONS, RESPONSES
    stmt = select(s.c.response_id, func.sum(s.c.seconds).label("seconds")).group_by(s.c.response_id)
    if since is not None or until is not None:
        stmt = stmt.join(t, t.c.id == s.c.response_id).where(*_scope(since, until))
    with db.reader() as conn:
        rows = conn.execute(stmt).mappings().all()
    return pd.DataFrame(rows, columns=["response_id", "seconds"])


def guard_scores(db: Database, *, since: datetime | None = None, until: datetime | None = None,
                 part: HashSlice | None = None) -> pd.DataFrame:  # fmt: skip
    """The latest guard verdict per response created in ``[since, until)`` (with ``part``: in
    the hash slice, or reviewed): decision and one column per head's score."""
    g, t = GUARD_VERDICTS, RESPONSES
    stmt = (
        select(g.c.response_id, g.c.decision, g.c.scores, g.c.classifier_version)
        .where(g.c.response_id.is_not(None))
        .order_by(g.c.created_at, g.c.id)
    )
    if since is not None or until is not None or part is not None:
        scope = _scope(since, until, part, or_reviewed=True)
        stmt = stmt.join(t, t.c.id == g.c.response_id).where(*scope)
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
