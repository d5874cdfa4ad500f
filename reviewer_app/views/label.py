"""The label page's model: the item in hand, its lease, the SLA countdown and the progress line.

The page keeps a ``Current`` in the session; these functions claim, renew, submit and skip
through the review stage's queue (which holds the lease guarantee) and turn times into the
short lines the page shows. Times are passed in, so the countdowns are tested without waiting.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from evalkit import review
from evalkit.review import LeaseLost, QueueItem, Reviewer, SubmitResult
from evalkit.review.queue import DEFAULT_LEASE
from evalkit.store.database import Database
from views import form

#: How long a claim or a renewal holds an item; the page renews well before it runs out.
LEASE = DEFAULT_LEASE
#: The page's background tick: renews the lease and refreshes the countdowns.
TICK_SECONDS = 20.0
#: Renew once less than this much of the lease is left (a few ticks' margin).
RENEW_BELOW = LEASE - timedelta(minutes=2)
#: An item due within this long (or overdue) counts as urgent: its countdown is shown in red.
URGENT_WITHIN = timedelta(hours=1)


@dataclass(frozen=True)
class Current:
    """The item the reviewer holds, since when (for seconds spent) and until when."""

    item: QueueItem
    claimed_at: datetime
    lease_expires_at: datetime
    renewals: int = 0


def next_item(db: Database, reviewer: Reviewer, *, now: datetime) -> Current | None:
    """Claim the next item due for ``reviewer`` (the one they hold already, if any)."""
    item = review.claim(db, reviewer, lease=LEASE, now=now)
    if item is None:
        return None
    return Current(item=item, claimed_at=now, lease_expires_at=item.lease_expires_at)


def keep_lease(db: Database, reviewer: Reviewer, current: Current, *, now: datetime) -> Current:
    """Renew the lease when it is getting short; raises ``LeaseLost`` if it is gone already."""
    if current.lease_expires_at - now > RENEW_BELOW:
        return current
    expires = review.renew(db, reviewer, current.item.item_id, lease=LEASE, now=now)
    return replace(current, lease_expires_at=expires, renewals=current.renewals + 1)


def submit(
    db: Database,
    reviewer: Reviewer,
    current: Current,
    choices: Mapping[str, Any],
    texts: Mapping[str, str],
    *,
    now: datetime,
) -> SubmitResult:
    """Validate and store the reviewer's answers; seconds spent are measured from the claim.

    Raises ``UsageError`` for an incomplete form and ``LeaseLost`` if the item went back.
    """
    seconds = (now - current.claimed_at).total_seconds()
    submission = form.submission(choices, texts, seconds=seconds)
    return review.submit(db, reviewer, current.item.item_id, submission, now=now)


def skip(db: Database, reviewer: Reviewer, current: Current, *, now: datetime) -> None:
    """Give the item back for someone else; a lease already lost needs no giving back."""
    with contextlib.suppress(LeaseLost):
        review.release(db, reviewer, current.item.item_id, now=now)


def remaining(db: Database, reviewer: Reviewer, *, now: datetime) -> int:
    """Items still open for this reviewer's tenants (pending or leased, the one in hand too)."""
    status = review.queue_status(db, reviewer=reviewer, now=now)
    return status.pending + status.in_progress


def _span(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


@dataclass(frozen=True)
class Countdown:
    text: str
    #: ``overdue`` | ``urgent`` | ``ok``: how loudly the page shows it
    level: str


def sla(due_at: datetime | None, now: datetime) -> Countdown | None:
    """The SLA line of an item with a due time: ``due in 12 min`` / ``overdue by 3 min``."""
    if due_at is None:
        return None
    left = due_at - now
    if left <= timedelta(0):
        return Countdown(f"SLA: overdue by {_span(left)}", "overdue")
    return Countdown(f"SLA: due in {_span(left)}", "urgent" if left <= URGENT_WITHIN else "ok")


def lease_line(current: Current, now: datetime) -> str:
    """``Lease held for 9 min more (renewed 2×)``: the reviewer sees the item stays theirs."""
    left = current.lease_expires_at - now
    if left <= timedelta(0):
        return "Lease ran out: this item may go to someone else."
    renewed = f" · renewed {current.renewals}×" if current.renewals else ""
    until = current.lease_expires_at.strftime("%H:%M:%S UTC")
    return f"Lease held for {_span(left)} more (until {until}){renewed}"


def progress_line(labelled: int, skipped: int, open_items: int) -> str:
    done = f"{labelled} labelled" + (f", {skipped} skipped" if skipped else "")
    return f"This session: {done} · {open_items} open in your queue"
