"""Putting chosen responses in the queue: priorities, SLAs, overlap and gold items.

This is the queue policy of the sampling side, in one place: what priority and due time a
stream gets, which share of a probability sample needs k >= 2 reviewers (drawn with the
caller's generator, so a seed reproduces it), and how gold items enter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import numpy as np

from evalkit.errors import UsageError
from evalkit.records import utcnow
from evalkit.review.schema import head as schema_head
from evalkit.review.types import EnqueueResult, NewItem
from evalkit.store import enqueue as store

#: Priority of flagged items (guard, rules) over sampled ones (0).
HIGH_PRIORITY = 100
DEFAULT_SLA = timedelta(hours=1)
DEFAULT_QUEUE = "default"
#: Strategies whose items form a probability sample (watch weights them by 1/probability).
PROBABILITY_STRATEGIES = ("random", "stratified", "policy")
TARGETED_STRATEGIES = ("risk", "uncertainty", "flagged", "suspect")


def enqueue_flagged(
    db,
    response_ids: Iterable[str],
    *,
    reason: str,
    priority: int = HIGH_PRIORITY,
    due_in: timedelta | None = DEFAULT_SLA,
    queue: str = DEFAULT_QUEUE,
    strategy: str = "flagged",
    now: datetime | None = None,
) -> EnqueueResult:
    """Queue responses flagged by the guard (or a rule, or learn's suspect labels) with high
    priority and a due time (default: reviewed within the hour).

    A targeted stream: its items are kept apart from the probability sample by ``strategy``
    (``flagged`` or ``suspect``) and carry inclusion probability 1 (chosen with certainty once
    flagged), which estimates must not use as a design weight. Responses already in ``queue``
    are left as they are; ids the store does not hold come back in ``missing``.
    """
    if strategy not in TARGETED_STRATEGIES:
        raise UsageError(f"strategy {strategy!r}: a flagged stream is one of {TARGETED_STRATEGIES}")
    if not reason.strip():
        raise UsageError("reason: say why the responses were flagged")
    now = now or utcnow()
    due_at = now + due_in if due_in is not None else None
    items = [
        NewItem(rid, strategy, 1.0, priority=priority, due_at=due_at, reason=reason[:256])
        for rid in dict.fromkeys(response_ids)
    ]
    return store.insert_items(db, queue, items, now)


def enqueue_selection(
    db,
    items: Sequence[NewItem],
    *,
    queue: str = DEFAULT_QUEUE,
    overlap_share: float = 0.0,
    overlap_k: int = 2,
    rng: np.random.Generator,
    now: datetime | None = None,
) -> EnqueueResult:
    """Queue a sample; a share ``overlap_share`` of it (drawn with ``rng``) needs ``overlap_k``
    distinct reviewers, so agreement can be measured on a random part of the sample."""
    if not 0 <= overlap_share <= 1:
        raise UsageError(f"overlap share must be between 0 and 1 (got {overlap_share})")
    if overlap_k < 2:
        raise UsageError(f"overlap k must be at least 2 (got {overlap_k})")
    draws = rng.random(len(items))
    chosen = [
        NewItem(
            item.response_id,
            item.strategy,
            item.inclusion_probability,
            stratum=item.stratum,
            priority=item.priority,
            due_at=item.due_at,
            required_reviews=overlap_k if draw < overlap_share else item.required_reviews,
            reason=item.reason,
        )
        for item, draw in zip(items, draws, strict=True)
    ]
    return store.insert_items(db, queue, chosen, now or utcnow())


def add_gold(
    db,
    answers: Mapping[str, Mapping[str, str]],
    *,
    queue: str = DEFAULT_QUEUE,
    now: datetime | None = None,
) -> EnqueueResult:
    """Make responses gold items of ``queue``: ``answers`` maps response id → {head: value}.

    Gold items are served to every reviewer once, mixed in at the gold rate, and never count
    toward final labels; each reviewer's answers on them measure their accuracy.
    """
    items = []
    for rid, expected in answers.items():
        if not expected:
            raise UsageError(f"gold item {rid!r}: give the expected answer of at least one head")
        for name, value in expected.items():
            if value not in schema_head(name).values:
                raise UsageError(f"gold item {rid!r}: {name} cannot be {value!r}")
        items.append(NewItem(rid, "gold", 1.0, gold=dict(expected), required_reviews=1))
    return store.insert_items(db, queue, items, now or utcnow())
