"""The label page's model against a real store: claim, lease, submit, skip, tenants, countdowns."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from views import label, session

from evalkit.errors import UsageError
from evalkit.review import get_reviewer, set_active
from evalkit.review.types import LeaseLost
from evalkit.store.database import Database
from tests.reviewer_app.conftest import PASSWORD

ANSWERS = {"hallucination": "no", "tone": "polite", "harm": "none"}


@pytest.fixture
def store(seeded_url: str) -> Iterator[Database]:
    db = Database.open(seeded_url)
    yield db
    db.dispose()


def now() -> datetime:
    return datetime.now(UTC)


def test_the_urgent_item_comes_first_and_is_held_until_submitted(store):
    ann = get_reviewer(store, "ann")
    first = label.next_item(store, ann, now=now())
    assert first is not None and first.item.strategy == "flagged"
    again = label.next_item(store, ann, now=now())
    assert again is not None and again.item.item_id == first.item.item_id
    label.submit(store, ann, first, ANSWERS, {"note": "fine"}, now=now())
    after = label.next_item(store, ann, now=now())
    assert after is not None and after.item.item_id != first.item.item_id


def test_a_reviewer_sees_only_their_tenants_items(store):
    ann, bea = get_reviewer(store, "ann"), get_reviewer(store, "bea")
    seen = set()
    while (current := label.next_item(store, ann, now=now())) is not None:
        seen.add(current.item.response.tenant)
        label.submit(store, ann, current, ANSWERS, {}, now=now())
    assert seen == {"acme"}
    assert label.remaining(store, ann, now=now()) == 0
    other = label.next_item(store, bea, now=now())
    assert other is not None and other.item.response.tenant == "globex"


def test_the_lease_is_renewed_only_when_it_runs_short(store):
    ann = get_reviewer(store, "ann")
    t0 = now()
    current = label.next_item(store, ann, now=t0)
    assert current is not None
    assert label.keep_lease(store, ann, current, now=t0 + timedelta(seconds=30)) is current
    later = t0 + label.LEASE - timedelta(minutes=1)
    renewed = label.keep_lease(store, ann, current, now=later)
    assert renewed.renewals == 1
    assert renewed.lease_expires_at == later + label.LEASE
    assert "renewed 1×" in label.lease_line(renewed, later)


def test_a_lost_lease_is_said_and_stores_nothing(store):
    ann, bea = get_reviewer(store, "ann"), get_reviewer(store, "bea")
    t0 = now()
    current = label.next_item(store, ann, now=t0)
    assert current is not None
    gone = t0 + label.LEASE + timedelta(minutes=1)
    taken = label.next_item(store, bea, now=gone)
    assert taken is not None and taken.item.item_id == current.item.item_id
    with pytest.raises(LeaseLost):
        label.keep_lease(store, ann, current, now=gone)
    with pytest.raises(LeaseLost):
        label.submit(store, ann, current, ANSWERS, {}, now=gone)


def test_an_incomplete_form_is_refused_before_the_store(store):
    ann = get_reviewer(store, "ann")
    current = label.next_item(store, ann, now=now())
    assert current is not None
    with pytest.raises(UsageError, match="category"):
        label.submit(store, ann, current, {**ANSWERS, "harm": "high"}, {}, now=now())


def test_a_skipped_item_goes_to_someone_else(store):
    ann, bea = get_reviewer(store, "ann"), get_reviewer(store, "bea")
    current = label.next_item(store, ann, now=now())
    assert current is not None
    label.skip(store, ann, current, now=now())
    nxt = label.next_item(store, ann, now=now())
    assert nxt is not None and nxt.item.item_id != current.item.item_id
    theirs = label.next_item(store, bea, now=now())
    assert theirs is not None and theirs.item.item_id == current.item.item_id


def test_countdowns_and_progress_read_well():
    t = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert label.sla(None, t) is None
    assert label.sla(t + timedelta(minutes=12, seconds=5), t) == label.Countdown(
        "SLA: due in 12 min", "urgent"
    )
    assert label.sla(t + timedelta(hours=3, minutes=5), t) == label.Countdown(
        "SLA: due in 3 h 05 min", "ok"
    )
    assert label.sla(t - timedelta(seconds=40), t) == label.Countdown(
        "SLA: overdue by 40 s", "overdue"
    )
    assert (
        label.progress_line(3, 1, 7) == "This session: 3 labelled, 1 skipped · 7 open in your queue"
    )


# --- login ------------------------------------------------------------------------------------


def test_login_gives_a_session_that_the_store_recognises(store):
    got = session.login(store, "ann", PASSWORD, minutes=5)
    assert isinstance(got, session.AppSession)
    assert (got.reviewer.username, got.role, got.reviewer.tenants) == ("ann", "reviewer", ("acme",))
    assert got.expires_at - now() <= timedelta(minutes=5)
    resumed = session.resume(store, got)
    assert resumed is not None and resumed.reviewer.id == got.reviewer.id


@pytest.mark.parametrize(
    ("username", "password"), [("ann", "wrong password"), ("nobody", PASSWORD), ("", "")]
)
def test_a_wrong_login_says_so_without_telling_which_part(store, username, password):
    got = session.login(store, username, password, minutes=5)
    assert isinstance(got, str)
    assert "nobody" not in got


def test_logout_and_deactivation_end_the_session(store):
    one = session.login(store, "ann", PASSWORD, minutes=5)
    two = session.login(store, "ann", PASSWORD, minutes=5)
    assert isinstance(one, session.AppSession) and isinstance(two, session.AppSession)
    session.logout(store, one)
    assert session.resume(store, one) is None
    assert session.resume(store, two) is not None
    set_active(store, "ann", False)
    assert session.resume(store, two) is None
    assert isinstance(session.login(store, "ann", PASSWORD, minutes=5), str)


def test_pages_by_role(store):
    roles = {}
    for name in ("ann", "judy", "root"):
        got = session.login(store, name, PASSWORD, minutes=5)
        assert isinstance(got, session.AppSession)
        roles[name] = [p for p in session.PAGE_ROLES if session.may_open(got, p)]
        roles[name + " starts"] = session.start_page(got)
    assert roles == {
        "ann": ["Label"],
        "ann starts": "pages/1_Label.py",
        "judy": ["Label", "Adjudicate"],
        "judy starts": "pages/1_Label.py",
        "root": ["Label", "Adjudicate", "Queue", "Reviewers"],
        "root starts": "pages/3_Queue.py",
    }


def test_the_sidebar_lists_the_pages_a_role_may_open(store):
    from views import ui

    assert ui.page_name("3_Queue.py") == "Queue"
    assert ui.page_name("12_Drift_report.py") == "Drift report"
    listed = {}
    for name in ("ann", "judy", "root"):
        got = session.login(store, name, PASSWORD, minutes=5)
        assert isinstance(got, session.AppSession)
        listed[name] = [label for _, label in ui.allowed_pages(got)]
    assert listed["ann"] == ["Label"]
    assert listed["judy"] == ["Label", "Adjudicate"]
    # every page file is listed for an admin, later stages' pages (5+) included
    files = sorted(p.name for p in (ui.APP_DIR / "pages").glob("*.py"))
    assert len(listed["root"]) == len(files)
    assert listed["root"][:4] == ["Label", "Adjudicate", "Queue", "Reviewers"]
