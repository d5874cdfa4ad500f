"""The admin pages: queue state, reviewer work and agreement, as numbers and on the pages."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from streamlit.testing.v1 import AppTest
from views import admin, session, state

from evalkit.review import get_reviewer
from tests.reviewer_app.conftest import APP_DIR, PASSWORD


def test_queue_numbers_and_reviewer_work(disputed):
    root = get_reviewer(disputed, "root")
    qs = admin.status(disputed, root, now=datetime.now(UTC))
    head = admin.overview(qs)
    # 4 acme + 2 globex seeded, none touched; the overlap item is disputed
    assert (head.open_items, head.disputed, head.done) == (6, 1, 0)
    counts = dict(admin.status_counts(qs).itertuples(index=False))
    assert counts == {"pending": 6, "in progress": 0, "disputed": 1, "done": 0, "adjudicated": 0}
    work = admin.reviewer_work(qs)
    assert list(work["reviewer"]) == ["ann", "bea"]
    assert list(work["submitted"]) == [1, 1]


def test_depth_breaches_and_throughput_frames(disputed):
    from datetime import timedelta

    from evalkit.sample import enqueue_flagged

    root = get_reviewer(disputed, "root")
    now = datetime.now(UTC)
    depth = admin.depth(disputed, root, now=now)
    assert int(depth["open"].sum()) == 6 and int(depth["overdue"].sum()) == 0
    work = admin.throughput(disputed, root, since=now - timedelta(days=1), until=now, bucket="day")
    assert sorted(work["reviewer"]) == ["ann", "bea"] and work["submitted"].tolist() == [1, 1]
    # a flagged item due an hour ago and still open: a breach, overdue in its cell
    (late,) = enqueue_flagged(
        disputed,
        ["r-500"],
        reason="guard",
        queue="urgent",
        due_in=timedelta(hours=1),
        now=now - timedelta(hours=2),
    ).added
    frame = admin.breaches(disputed, root, since=now - timedelta(days=1), now=now)
    assert frame["item"].tolist() == [late] and frame["hours late"].tolist() == [1.0]
    assert int(admin.depth(disputed, root, now=now)["overdue"].sum()) == 1


def test_agreement_frames_leave_out_what_cannot_be_computed(disputed):
    report = admin.agreement(disputed)
    alpha = admin.alpha_per_field(report)
    # one overlap item: alpha of hallucination (yes vs no) is computable, -ve or 0; tone has
    # a single value (polite, polite) and is left out rather than shown as NaN
    assert "tone" not in set(alpha["field"])
    assert alpha["alpha"].notna().all()
    quality = admin.accuracy_per_reviewer(report)
    assert list(quality["reviewer"]) == ["ann", "bea"]
    assert quality["gold answers"].tolist() == [0, 0]


@pytest.mark.parametrize("page", ["pages/3_Queue.py", "pages/4_Reviewers.py"])
def test_admin_pages_render_for_an_admin_only(disputed, page):
    for username, allowed in (("ann", False), ("root", True)):
        at = AppTest.from_file(str(APP_DIR / "Home.py"), default_timeout=60)
        at.session_state[state.SESSION] = session.login(disputed, username, PASSWORD, minutes=5)
        at.switch_page(page).run()
        assert not at.exception
        assert bool(at.error) is not allowed
    if page.endswith("Queue.py"):
        assert [m.label for m in at.metric][:3] == [
            "Open items",
            "In progress",
            "SLA breaches (overdue)",
        ]
        assert at.metric[0].value == "6"
        assert [h.value for h in at.subheader][1:] == [
            "Queue depth by priority, strategy and stratum",
            "SLA breaches",
            "Throughput per reviewer",
        ]
        assert "No item missed its due time in this period." in [c.value for c in at.caption]
    else:
        assert [t.value for t in at.title] == ["Reviewers"]
        assert "Agreement" in [h.value for h in at.header]
