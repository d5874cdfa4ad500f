"""Admin breakdowns on both stores: queue depth per cell, SLA breaches, throughput."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evalkit.errors import UsageError
from evalkit.review import (
    accounts,
    parse_submission,
    queue_depth,
    sla_breaches,
    submit_external,
    throughput,
)
from tests.review.conftest import T0, add_responses, queue_items

NOW = T0 + timedelta(days=1)
H = timedelta(hours=1)


def _label(db, item, who, at, seconds, ext):
    sub = parse_submission({"hallucination": "no"}, seconds=seconds)
    assert submit_external(db, item, who, sub, external_id=ext, now=at) is not None


@pytest.fixture
def worked(db):
    r = add_responses(db, 5, tenants=("acme", "acme", "acme", "globex", "acme"))
    (a,) = queue_items(db, [r[0]])
    b, c = queue_items(db, r[1:3], priority=5, due_at=T0 + H)
    (d,) = queue_items(db, [r[3]], stratum="s", due_at=T0 + 2 * H)
    (e,) = queue_items(db, [r[4]], priority=5, due_at=T0 + H)
    _label(db, b, "ann", T0 + timedelta(minutes=30), 10, "1")  # in time
    _label(db, c, "bob", T0 + 3 * H, 30, "2")  # two hours late
    _label(db, a, "ann", T0 + 3 * H + timedelta(minutes=10), 20, "3")  # no due time
    _label(db, b, "ann", T0 + 3 * H + timedelta(minutes=20), 99, "4")  # an edit: not counted
    return db, {"a": a, "b": b, "c": c, "d": d, "e": e}


def test_queue_depth_per_cell_and_tenant(worked):
    db, _ = worked
    rows = [tuple(vars(r).values()) for r in queue_depth(db, now=NOW)]
    assert rows == [(5, "random", None, 1, 1), (0, "random", "s", 1, 1)]
    assert [tuple(vars(r).values()) for r in queue_depth(db, now=T0)] == [
        (5, "random", None, 1, 0),
        (0, "random", "s", 1, 0),
    ]
    globex = accounts.add_reviewer(db, "gx", tenants=["globex"])
    assert [r.stratum for r in queue_depth(db, viewer=globex, now=NOW)] == ["s"]
    assert queue_depth(db, queue="other", now=NOW) == []


def test_sla_breaches_are_late_or_still_open(worked):
    db, ids = worked
    found = sla_breaches(db, since=T0, now=NOW)
    assert [(b.item_id, b.finished_at, b.late_by) for b in found] == [
        (ids["c"], T0 + 3 * H, 2 * H),
        (ids["e"], None, NOW - (T0 + H)),
        (ids["d"], None, NOW - (T0 + 2 * H)),
    ]
    assert [b.item_id for b in sla_breaches(db, since=T0 + 90 * timedelta(minutes=1), now=NOW)] == [
        ids["d"]
    ]
    globex = accounts.add_reviewer(db, "gx", tenants=["globex"])
    assert [b.item_id for b in sla_breaches(db, since=T0, now=NOW, viewer=globex)] == [ids["d"]]
    assert sla_breaches(db, since=T0, now=T0 + H) == []  # nothing was due before then


def test_throughput_per_reviewer_and_bucket(worked):
    db, _ = worked
    hourly = throughput(db, since=T0, until=NOW)
    assert [tuple(vars(r).values()) for r in hourly] == [
        ("ann", T0, 1, 10.0),
        ("ann", T0 + 3 * H, 1, 20.0),
        ("bob", T0 + 3 * H, 1, 30.0),
    ]
    daily = throughput(db, since=T0, until=NOW, bucket="day")
    day = T0.replace(hour=0)
    assert [tuple(vars(r).values()) for r in daily] == [
        ("ann", day, 2, 15.0),
        ("bob", day, 1, 30.0),
    ]
    assert throughput(db, since=T0 + H, until=T0 + 2 * H) == []
    with pytest.raises(UsageError, match="bucket"):
        throughput(db, since=T0, until=NOW, bucket="week")
