"""Home (login) and the label page, driven by Streamlit's AppTest against a real store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from views import session, state

from evalkit.review import claim, get_reviewer
from evalkit.store.database import Database
from evalkit.store.labels import labels_of_items
from tests.reviewer_app.conftest import APP_DIR, MALICIOUS, PASSWORD

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture
def app_env(seeded_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("EVALKIT_DATABASE_URL", seeded_url)
    monkeypatch.setenv("EVALKIT_DATA_DIR", str(tmp_path / "data"))
    return seeded_url


@pytest.fixture
def store(app_env: str) -> Iterator[Database]:
    db = Database.open(app_env)
    yield db
    db.dispose()


def home() -> AppTest:
    return AppTest.from_file(str(APP_DIR / "Home.py"), default_timeout=60)


def as_user(store: Database, username: str, page: str) -> AppTest:
    at = home()
    got = session.login(store, username, PASSWORD, minutes=5)
    assert isinstance(got, session.AppSession)
    at.session_state[state.SESSION] = got
    at.switch_page(page)
    return at.run()


def button(at: AppTest, label: str):
    found = [b for b in at.button if b.label == label]
    assert len(found) == 1, [b.label for b in at.button]
    return found[0]


def texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def test_logging_in_opens_the_label_page(app_env):
    at = home().run()
    at.text_input[0].input("ann")
    at.text_input[1].input(PASSWORD)
    at.button[0].click().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Label"]
    assert isinstance(at.session_state[state.SESSION], session.AppSession)


def test_a_wrong_password_stays_on_the_login_page(app_env):
    at = home().run()
    at.text_input[0].input("ann")
    at.text_input[1].input("not the password")
    at.button[0].click().run()
    assert [e.value for e in at.error] == [
        "Wrong username or password, or the account is deactivated."
    ]
    assert state.SESSION not in at.session_state


def test_the_label_page_needs_a_login(app_env):
    at = home()
    at.switch_page("pages/1_Label.py")
    at.run()
    assert [w.value for w in at.warning] == ["Log in first."]
    assert not at.button


def test_the_urgent_item_first_its_untrusted_text_as_plain_text(store):
    at = as_user(store, "ann", "pages/1_Label.py")
    assert not at.exception
    # The malicious response is shown as text, verbatim; no Markdown element holds it.
    assert MALICIOUS in texts(at)
    assert not any("<script>" in m.value for m in at.markdown)
    assert [w.value for w in at.warning] == ["SLA: due in 29 min"] or [
        w.value for w in at.warning
    ] == ["SLA: due in 30 min"]
    assert any(c.value.startswith("Lease held for") for c in at.caption)


def test_every_choice_has_its_key_and_submit_needs_every_head(store):
    at = as_user(store, "ann", "pages/1_Label.py")
    shortcuts = {b.label: b.proto.shortcut for b in at.button}
    assert shortcuts["Yes, unsupported or false"] == "y"
    assert shortcuts["Submit"] == "enter" and shortcuts["Skip"] == "escape"
    assert button(at, "Submit").disabled
    for choice in ("No, supported", "Polite"):
        button(at, choice).click().run()
    assert button(at, "Submit").disabled
    button(at, "High").click().run()
    assert any(c.value == "Still to answer: Harm: category" for c in at.caption)
    button(at, "Financial loss").click().run()
    assert not button(at, "Submit").disabled
    first = at.session_state[state.CURRENT_ITEM].item
    button(at, "Submit").click().run()
    assert not at.exception
    # the next item is there at once, and the labels are in the store
    assert at.session_state[state.CURRENT_ITEM].item.item_id != first.item_id
    stored = labels_of_items(store, [first.item_id], kinds=("review",))
    assert {(lb.head, lb.value, lb.annotator) for lb in stored} == {
        ("hallucination", "no", "ann"),
        ("tone", "polite", "ann"),
        ("harm", "high", "ann"),
    }
    assert {lb.category for lb in stored if lb.head == "harm"} == {"financial"}


def test_skip_moves_on_and_counts(store):
    at = as_user(store, "ann", "pages/1_Label.py")
    first = at.session_state[state.CURRENT_ITEM].item.item_id
    button(at, "Skip").click().run()
    assert at.session_state[state.CURRENT_ITEM].item.item_id != first
    assert at.session_state[state.SKIPPED_COUNT] == 1


def test_an_ended_session_stops_the_page_and_gives_the_item_back(store):
    at = as_user(store, "ann", "pages/1_Label.py")
    held = at.session_state[state.CURRENT_ITEM].item.item_id
    session.logout(store, at.session_state[state.SESSION])  # as expiry or another tab would
    at.run()
    assert [w.value for w in at.warning] == ["Log in first."]
    assert state.SESSION not in at.session_state
    bea = get_reviewer(store, "bea")
    assert claim(store, bea).item_id == held


def test_logging_out_revokes_the_token_and_gives_the_item_back(store):
    at = as_user(store, "ann", "pages/1_Label.py")
    held = at.session_state[state.CURRENT_ITEM].item.item_id
    token_session = at.session_state[state.SESSION]
    at.switch_page("Home.py").run()
    button(at, "Log out").click().run()
    assert [i.value for i in at.info] == ["Logged out."]
    assert session.resume(store, token_session) is None
    assert claim(store, get_reviewer(store, "bea")).item_id == held


def test_a_short_lease_is_renewed_on_the_next_run_and_says_so(store):
    at = as_user(store, "ann", "pages/1_Label.py")
    current = at.session_state[state.CURRENT_ITEM]
    short = replace(current, lease_expires_at=datetime.now(UTC) + timedelta(seconds=30))
    at.session_state[state.CURRENT_ITEM] = short
    at.run()
    renewed = at.session_state[state.CURRENT_ITEM]
    assert renewed.renewals == 1
    assert renewed.lease_expires_at > short.lease_expires_at + timedelta(minutes=5)
    assert any("renewed 1×" in c.value for c in at.caption)
