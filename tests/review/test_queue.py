"""Queue semantics on both stores: order, leases, overlap, skips, tenants, gold, edits."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from evalkit.errors import NotFoundError
from evalkit.review import LeaseLost, accounts, claim, queue_status, release, renew, submit
from evalkit.review.queue import adjudicate, disputed_items, item_history
from evalkit.review.types import Forbidden
from evalkit.sample import add_gold, enqueue_flagged
from tests.review.conftest import T0, add_responses, queue_items

NOW = T0 + timedelta(days=1)
LEASE = timedelta(minutes=10)


def test_serves_by_priority_then_due_time_then_age(db, reviewers):
    r = add_responses(db, 4)
    old, new = queue_items(db, r[:2])
    flagged = enqueue_flagged(db, [r[2]], reason="guard: risk 0.93", now=T0).added[0]
    sooner = enqueue_flagged(db, [r[3]], reason="rule", due_in=timedelta(minutes=5), now=T0).added[
        0
    ]
    order = []
    for name in ("ann", "bob", "cy", "judge"):
        item = claim(db, reviewers[name], now=NOW)
        assert item is not None
        order.append(item.item_id)
    assert order == [sooner, flagged, old, new]
    assert claim(db, accounts.add_reviewer(db, "dee"), now=NOW) is None


def test_a_claim_returns_the_held_lease_and_overlap_needs_distinct_reviewers(db, reviewers):
    ann, bob, cy = reviewers["ann"], reviewers["bob"], reviewers["cy"]
    r = add_responses(db, 1)
    (item,) = queue_items(db, r, k=2)
    first = claim(db, ann, now=NOW)
    assert first is not None and claim(db, ann, now=NOW) == first  # the same lease, not a second
    assert claim(db, bob, now=NOW).item_id == item  # type: ignore[union-attr]
    assert claim(db, cy, now=NOW) is None  # two live leases: k reached
    submit(db, ann, item, {"hallucination": "no"}, now=NOW)
    assert claim(db, ann, now=NOW) is None  # never served twice to the same reviewer
    done = submit(db, bob, item, {"hallucination": "no"}, now=NOW)
    assert done.item_status == "done"
    assert claim(db, cy, now=NOW) is None
    status = queue_status(db, now=NOW)
    assert (status.pending, status.done, status.in_progress) == (0, 1, 0)
    assert [(p.username, p.submitted) for p in status.reviewers] == [("ann", 1), ("bob", 1)]


def test_an_expired_lease_returns_the_item_and_a_late_submit_is_refused(db, reviewers):
    ann, bob = reviewers["ann"], reviewers["bob"]
    (item,) = queue_items(db, add_responses(db, 1))
    claim(db, ann, now=NOW, lease=LEASE)
    assert claim(db, bob, now=NOW + timedelta(minutes=9)) is None
    later = NOW + timedelta(minutes=11)
    assert claim(db, bob, now=later).item_id == item  # type: ignore[union-attr]
    with pytest.raises(LeaseLost, match=f"your lease on item {item} expired at"):
        submit(db, ann, item, {"tone": "polite"}, now=later)
    assert submit(db, bob, item, {"tone": "neutral"}, now=later).item_status == "done"
    assert [h["reviewer_id"] for h in item_history(db, item)] == [bob.id]


def test_renew_extends_and_release_skips(db, reviewers):
    ann, bob = reviewers["ann"], reviewers["bob"]
    (item,) = queue_items(db, add_responses(db, 1))
    claim(db, ann, now=NOW, lease=LEASE)
    expires = renew(db, ann, item, lease=LEASE, now=NOW + timedelta(minutes=8))
    assert expires == NOW + timedelta(minutes=18)
    assert claim(db, bob, now=NOW + timedelta(minutes=12)) is None  # still ann's
    release(db, ann, item, now=NOW + timedelta(minutes=13))
    with pytest.raises(LeaseLost, match="no lease"):
        submit(db, ann, item, {"tone": "polite"}, now=NOW + timedelta(minutes=13))
    with pytest.raises(LeaseLost):
        renew(db, ann, item, now=NOW + timedelta(minutes=13))
    assert claim(db, ann, now=NOW + timedelta(minutes=14)) is None  # skipped: not again
    assert claim(db, bob, now=NOW + timedelta(minutes=14)).item_id == item  # type: ignore[union-attr]
    status = queue_status(db, now=NOW + timedelta(minutes=14))
    assert {p.username: (p.skipped, p.in_progress) for p in status.reviewers} == {
        "ann": (1, 0),
        "bob": (0, 1),
    }


def test_a_reviewer_reaches_only_their_tenants_items(db):
    r = add_responses(db, 2, tenants=("acme", "globex"))
    acme_item, globex_item = queue_items(db, r)
    acme = accounts.add_reviewer(db, "acme-rev", tenants=["acme"])
    item = claim(db, acme, now=NOW)
    assert item is not None and item.item_id == acme_item and item.response.tenant == "acme"
    submit(db, acme, acme_item, {"tone": "polite"}, now=NOW)
    assert claim(db, acme, now=NOW) is None
    for action in (
        lambda: submit(db, acme, globex_item, {"tone": "polite"}, now=NOW),
        lambda: release(db, acme, globex_item, now=NOW),
        lambda: renew(db, acme, globex_item, now=NOW),
    ):
        with pytest.raises(NotFoundError, match=f"no review item {globex_item}"):
            action()
    assert queue_status(db, reviewer=acme, now=NOW).pending == 0
    assert queue_status(db, now=NOW).pending == 1


def test_gold_items_are_mixed_in_once_per_reviewer_and_stay_out_of_counts(db, reviewers):
    ann, bob = reviewers["ann"], reviewers["bob"]
    r = add_responses(db, 3)
    queue_items(db, r[:2])
    (gold,) = add_gold(db, {r[2]: {"hallucination": "yes"}}, now=T0).added
    always = random.Random(0)
    first = claim(db, ann, gold_rate=1.0, rng=always, now=NOW)
    assert first is not None and first.item_id == gold and first.strategy == "random"
    submit(db, ann, gold, {"hallucination": "no"}, now=NOW)
    assert claim(db, ann, gold_rate=1.0, rng=always, now=NOW).item_id != gold  # type: ignore[union-attr]
    assert claim(db, bob, gold_rate=1.0, rng=always, now=NOW).item_id == gold  # type: ignore[union-attr]
    status = queue_status(db, now=NOW)
    assert (status.gold, status.pending) == (1, 2)


def test_adjudication_needs_the_role_and_settles_disputes(db, reviewers):
    ann, bob, judge = reviewers["ann"], reviewers["bob"], reviewers["judge"]
    (item,) = queue_items(db, add_responses(db, 1), k=2)
    for who, value in ((ann, "yes"), (bob, "no")):
        claim(db, who, now=NOW)
        submit(db, who, item, {"hallucination": value, "tone": "polite"}, now=NOW)
    with pytest.raises(Forbidden):
        disputed_items(db, ann)
    (disputed,) = disputed_items(db, judge)
    assert disputed.item_id == item and disputed.disagreeing_heads == ("hallucination",)
    assert sorted(label.value for label in disputed.labels if label.head == "hallucination") == [
        "no",
        "yes",
    ]
    with pytest.raises(Forbidden):
        adjudicate(db, ann, item, {"hallucination": "yes"})
    assert adjudicate(db, judge, item, {"hallucination": "yes"}).item_status == "adjudicated"
    assert disputed_items(db, judge) == []
    assert queue_status(db, now=NOW).adjudicated == 1


def test_overdue_items_are_counted(db, reviewers):
    r = add_responses(db, 2)
    enqueue_flagged(db, r, reason="guard", due_in=timedelta(hours=1), now=T0)
    status = queue_status(db, now=T0 + timedelta(hours=2))
    assert (status.overdue, status.oldest_due_at) == (2, T0 + timedelta(hours=1))
    assert queue_status(db, now=T0 + timedelta(minutes=30)).overdue == 0
