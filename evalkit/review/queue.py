"""Working the queue: claim, submit, release, renew, adjudicate, and where a queue stands.

Plain functions over an open store returning frozen dataclasses, so the HTTP API, the CLI and
the reviewer app call the same thing. The store (``evalkit.store.queue``) holds the
concurrency guarantee; the policy it applies is passed from here: the consensus rule
(``review.consensus``) and the gold-item draw.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

from evalkit.errors import NotFoundError, UsageError
from evalkit.records import utcnow
from evalkit.review import consensus
from evalkit.review.schema import Submission, parse_submission
from evalkit.review.types import (
    DisputedItem,
    Forbidden,
    OpenItem,
    QueueItem,
    QueueStatus,
    Reviewer,
    SubmitResult,
)
from evalkit.store import labels as label_store
from evalkit.store import queue as store
from evalkit.store import queue_views
from evalkit.store.database import Database

DEFAULT_LEASE = timedelta(minutes=10)
_system = random.SystemRandom()


def claim(
    db: Database,
    reviewer: Reviewer,
    *,
    queue: str | None = None,
    lease: timedelta = DEFAULT_LEASE,
    gold_rate: float = 0.0,
    rng: random.Random | None = None,
    now: datetime | None = None,
) -> QueueItem | None:
    """Lease the next due item to ``reviewer`` (None when nothing is due for them).

    A reviewer holding a live lease gets that item again rather than a second one. With
    probability ``gold_rate`` a gold item they have not answered is served first.
    """
    if not 0 <= gold_rate <= 1:
        raise UsageError(f"gold rate must be between 0 and 1 (got {gold_rate})")
    want_gold = gold_rate > 0 and (rng or _system).random() < gold_rate
    return store.claim(
        db, reviewer, queue=queue, lease=lease, now=now or utcnow(), want_gold=want_gold
    )


def submit(
    db: Database,
    reviewer: Reviewer,
    item_id: int,
    labels: Submission | Mapping[str, Any],
    *,
    now: datetime | None = None,
    **general: Any,
) -> SubmitResult:
    """Store the reviewer's labels for a leased item; again later, it is an edit (a new
    version). ``labels``: a ``Submission`` or plain data for ``schema.parse_submission``
    (``general`` then holds ``correction``, ``note``, ``seconds``). Raises ``LeaseLost`` when
    the lease was lost (nothing is stored) and ``NotFoundError`` for an item not theirs to see.
    """
    submission = labels if isinstance(labels, Submission) else parse_submission(labels, **general)
    return store.submit(
        db, reviewer, item_id, submission, now=now or utcnow(), decide=consensus.item_status
    )


def open_items(
    db: Database,
    *,
    queue: str | None = None,
    viewer: Reviewer | None = None,
    limit: int | None = None,
) -> list[OpenItem]:
    """Pending, non-gold items still needing reviews, with their responses, in serving order
    (priority high first, due time soonest first, then age). With ``viewer``, only items of the
    tenants that reviewer sees."""
    if limit is not None and limit < 1:
        raise UsageError(f"limit must be at least 1 (got {limit})")
    return queue_views.open_items(db, queue=queue, viewer=viewer, limit=limit)


def external_reviewers(db: Database, annotated: Mapping[str, Iterable[int]]) -> list[str]:
    """Create accounts for the annotators evalkit does not know yet; ``annotated`` maps each
    annotator to the items they labelled. Returns the names created.

    An account made this way is a reviewer without password, bound to the tenants of the items
    its annotator labelled: an outside tool's user never gains, by being imported, the right to
    read other tenants' data in the reviewer app. (When none of those items has a tenant, the
    store is single-tenant and the account is too: every tenant.) Widen it with
    ``evalkit reviewers``.
    """
    from evalkit.review import accounts

    created = []
    for annotator, item_ids in annotated.items():
        try:
            accounts.get_reviewer(db, annotator)
        except NotFoundError:
            _external_account(db, annotator, item_ids)
            created.append(annotator)
    return created


def _external_account(db: Database, annotator: str, item_ids: Iterable[int]) -> Reviewer:
    from evalkit.review import accounts

    found = (store.item_tenant_and_status(db, i) for i in dict.fromkeys(item_ids))
    tenants = sorted({f[0] for f in found if f is not None and f[0] is not None})
    try:
        return accounts.add_reviewer(db, annotator, tenants=tenants or None)
    except UsageError:  # added meanwhile by a concurrent import, or a name we refuse
        try:
            return accounts.get_reviewer(db, annotator)
        except NotFoundError:
            raise UsageError(
                f"annotator {annotator!r} cannot be a reviewer name: use letters, digits "
                "and . _ @ - (at most 128)"
            ) from None


def submit_external(
    db: Database,
    item_id: int,
    annotator: str,
    submission: Submission,
    *,
    source: str = "labelstudio",
    external_id: str,
    now: datetime | None = None,
) -> SubmitResult | None:
    """Store a submission made outside evalkit's queue (no lease), by reviewer ``annotator``.

    An annotator evalkit does not know yet gets an account (``external_reviewers``): role
    reviewer, no password (they cannot log in to the reviewer app until an admin sets one),
    bound to the tenant of this item. The queue's rule applies as in ``submit``: a first
    submission counts only while the item needs a review (never more than its k; refused with
    ``LeaseLost`` otherwise, nothing stored); one by the same reviewer again is an edit (a new
    version). ``external_id`` names the exact version (Label Studio: ``<annotation
    id>@<updated at>``): the same again returns None and stores nothing. Another tenant's item
    raises ``NotFoundError``, an inactive account ``Forbidden``.
    """
    from evalkit.review import accounts

    if not external_id:
        raise UsageError("an external submission needs its external id")
    try:
        reviewer = accounts.get_reviewer(db, annotator)
    except NotFoundError:
        reviewer = _external_account(db, annotator, [item_id])
    if not reviewer.active:
        raise Forbidden(f"reviewer {annotator!r} is deactivated: their labels are not stored")
    return store.submit_external(
        db,
        reviewer,
        item_id,
        submission,
        source=source,
        external_id=external_id,
        now=now or utcnow(),
        decide=consensus.item_status,
    )


def release(db: Database, reviewer: Reviewer, item_id: int, *, now: datetime | None = None) -> None:
    """Skip: give the item back for another reviewer; it is not served to this one again."""
    store.release(db, reviewer, item_id, now=now or utcnow())


def renew(
    db: Database,
    reviewer: Reviewer,
    item_id: int,
    *,
    lease: timedelta = DEFAULT_LEASE,
    now: datetime | None = None,
) -> datetime:
    """Extend a live lease (the reviewer is still working); returns the new expiry."""
    return store.renew(db, reviewer, item_id, lease=lease, now=now or utcnow())


def adjudicate(
    db: Database,
    adjudicator: Reviewer,
    item_id: int,
    labels: Submission | Mapping[str, Any],
    *,
    now: datetime | None = None,
    **general: Any,
) -> SubmitResult:
    """Settle an item: the adjudicator's labels become its final labels."""
    if not adjudicator.can_adjudicate:
        raise Forbidden(
            f"{adjudicator.username} is a {adjudicator.role}: adjudicating needs "
            "the adjudicator or admin role"
        )
    submission = labels if isinstance(labels, Submission) else parse_submission(labels, **general)
    return store.adjudicate(db, adjudicator, item_id, submission, now=now or utcnow())


def disputed_items(
    db: Database, adjudicator: Reviewer, *, queue: str | None = None, limit: int = 50
) -> list[DisputedItem]:
    """Items whose reviewers disagree, oldest first, with every reviewer's labels."""
    if not adjudicator.can_adjudicate:
        raise Forbidden(
            f"{adjudicator.username} is a {adjudicator.role}: only adjudicators and "
            "admins see other reviewers' labels"
        )
    items = queue_views.disputed(db, adjudicator, queue=queue, limit=limit)
    labels = label_store.labels_of_items(
        db, [item_id for item_id, _, _ in items], kinds=("review",)
    )
    by_item: dict[int, list[Any]] = {}
    for label in labels:
        by_item.setdefault(label.item_id or 0, []).append(label)
    return [
        DisputedItem(
            item_id=item_id,
            queue=name,
            response=response,
            labels=tuple(by_item.get(item_id, ())),
            disagreeing_heads=tuple(consensus.disagreeing_heads(by_item.get(item_id, ()))),
        )
        for item_id, name, response in items
    ]


def queue_status(
    db: Database,
    *,
    queue: str | None = None,
    reviewer: Reviewer | None = None,
    now: datetime | None = None,
) -> QueueStatus:
    """Counts per status, live leases, overdue items and progress per reviewer. With
    ``reviewer``, only items of the tenants that reviewer sees."""
    return queue_views.status(db, queue=queue, viewer=reviewer, now=now or utcnow())


def item_history(db: Database, item_id: int) -> list[dict[str, Any]]:
    """Every submission version of an item: who, when, version, correction, seconds."""
    return label_store.submission_history(db, item_id)
