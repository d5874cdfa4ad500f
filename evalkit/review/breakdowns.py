"""Where the queue stands, broken down for admins: depth per cell, SLA breaches, throughput.

Plain functions over an open store returning frozen dataclasses (the reviewer app charts them);
with ``viewer``, only items of the tenants that reviewer sees.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from evalkit.errors import UsageError
from evalkit.review.types import Reviewer
from evalkit.store import queue_breakdowns as store
from evalkit.store.database import Database

BUCKETS = ("hour", "day")


@dataclass(frozen=True)
class DepthRow:
    """Pending items of one (priority, strategy, stratum) cell, and how many are overdue."""

    priority: int
    strategy: str
    stratum: str | None
    open: int
    overdue: int


@dataclass(frozen=True)
class Breach:
    """An item that missed its due time: still open (``finished_at`` None) or done late."""

    item_id: int
    queue: str
    priority: int
    strategy: str
    due_at: datetime
    finished_at: datetime | None
    #: how late it was finished, or is by ``now`` when still open
    late_by: timedelta


@dataclass(frozen=True)
class ThroughputRow:
    """Counted reviews one reviewer submitted in one bucket, and their median time per item
    (None when no submission recorded its seconds)."""

    reviewer: str
    bucket_start: datetime
    submitted: int
    median_seconds: float | None


def queue_depth(
    db: Database, *, queue: str | None = None, viewer: Reviewer | None = None, now: datetime
) -> list[DepthRow]:
    """Pending (non-gold) items per priority, strategy and stratum, with the overdue ones."""
    return [DepthRow(*row) for row in store.depth(db, queue=queue, viewer=viewer, now=now)]


def sla_breaches(
    db: Database, *, since: datetime, now: datetime, viewer: Reviewer | None = None
) -> list[Breach]:
    """Items due in [``since``, ``now``) not finished by their due time, oldest due first."""
    if since > now:
        raise UsageError("since must not be after now")
    return [
        Breach(i, q, p, s, due, done, (done or now) - due)
        for i, q, p, s, due, done in store.breaches(db, since=since, now=now, viewer=viewer)
    ]


def _bucket(when: datetime, bucket: str) -> datetime:
    when = when.astimezone(UTC)
    start = when.replace(minute=0, second=0, microsecond=0)
    return start.replace(hour=0) if bucket == "day" else start


def throughput(
    db: Database,
    *,
    since: datetime,
    until: datetime,
    bucket: str = "hour",
    viewer: Reviewer | None = None,
) -> list[ThroughputRow]:
    """Counted reviews (first versions; edits and adjudications apart) per reviewer and UTC
    hour or day in [``since``, ``until``), with the median seconds per item."""
    if bucket not in BUCKETS:
        raise UsageError(f"bucket {bucket!r}: expected one of {', '.join(BUCKETS)}")
    if since >= until:
        raise UsageError("since must be before until")
    cells: dict[tuple[str, datetime], list[float | None]] = {}
    for who, at, seconds in store.submissions(db, since=since, until=until, viewer=viewer):
        cells.setdefault((who, _bucket(at, bucket)), []).append(seconds)
    out = []
    for (who, start), times in sorted(cells.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        timed = [t for t in times if t is not None]
        median = statistics.median(timed) if timed else None
        out.append(ThroughputRow(who, start, len(times), median))
    return out
