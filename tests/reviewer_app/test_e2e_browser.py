"""End to end in headless Chromium: the app as the demo serves it, driven from the keyboard.

A reviewer logs in (type, Tab, type, Enter), labels three items with one key per answer and
Enter, and the labels are in the store and on the admin page. The first item's response holds
``<script>`` and ``<img onerror>``: it must show as text and never run. Screenshots of each step
are left in the test's folder (``pytest --basetemp DIR`` keeps them somewhere known).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.reviewer_app.conftest import PASSWORD, seed_store

pytestmark = pytest.mark.slow

#: One key per head (hallucination no, tone polite, harm none), then Enter to submit.
KEYS = [("n", "No, supported"), ("p", "Polite"), ("0", "None")]


def _selected(page: Any, label: str) -> Any:
    return page.locator('button[data-testid="stBaseButton-primary"]', has_text=label).first


def _choose(page: Any, key: str, label: str) -> None:
    """Press ``key`` and wait until ``label`` is the selected answer.

    On a loaded machine a key pressed while Streamlit is still wiring up the new run's shortcut
    handlers can be dropped. Pressing again blindly would be wrong (the same key clears a
    selected answer), so a retry happens only once the page is idle and the answer is still
    not selected, i.e. when the key press was lost rather than slow.
    """
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(3):
        page.keyboard.press(key)
        try:
            _selected(page, label).wait_for(timeout=10_000)
            return
        except PlaywrightTimeout:
            _idle(page)
            if _selected(page, label).count():
                return
    raise AssertionError(f"pressing {key!r} three times never selected {label!r}")


def _idle(page: Any) -> None:
    """Wait until the script run a key started has finished: no running indicator and no stale
    element left from the run before (call it after seeing something the new run drew)."""
    page.wait_for_function(
        "() => !document.querySelector("
        "'[data-testid=stStatusWidgetRunningIcon], [data-stale=true]')"
    )


def _login(page: Any, url: str, username: str) -> None:
    page.goto(url)
    page.get_by_label("Username").focus()
    page.keyboard.type(username)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")


def _item_caption(page: Any) -> str:
    caption = page.get_by_text("item ", exact=False).filter(has_text="·").first
    caption.wait_for()
    return str(caption.inner_text())


def test_keyboard_only_labelling_in_chromium(serve_app, page, tmp_path: Path):
    db_path = tmp_path / "store.db"
    url = f"sqlite:///{db_path}"
    seed_store(url, tmp_path / "data")
    app = serve_app({"EVALKIT_DATABASE_URL": url, "EVALKIT_DATA_DIR": str(tmp_path / "data")})
    shots = tmp_path / "screenshots"
    shots.mkdir()

    page.goto(app)
    page.get_by_label("Username").wait_for()
    page.screenshot(path=str(shots / "1-login.png"))
    _login(page, app, "ann")
    page.get_by_role("heading", name="Label", exact=True).wait_for()
    page.get_by_text("SLA: due in").wait_for()
    # the sidebar lists the pages a reviewer may open, and only those
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_role("link", name="Label").count() == 1
    assert sidebar.get_by_role("link", name="Queue").count() == 0

    # The malicious response is on screen as text, and neither the script nor the handler ran.
    page.get_by_text("<script>window.__xss = 'script'</script>", exact=False).wait_for()
    page.get_by_text("**not bold** [click](javascript:alert(1))", exact=False).wait_for()
    _idle(page)
    page.screenshot(path=str(shots / "2-label-malicious.png"), full_page=True)
    assert page.evaluate("() => window.__xss === undefined")
    assert page.locator("img[src='x']").count() == 0

    seen, code_blocks = [], 0
    for n in range(3):
        _idle(page)  # a key pressed while the next item is being drawn can be lost
        for key, label in KEYS:
            _choose(page, key, label)
        page.get_by_text("Ready: press Enter to submit.").wait_for()
        _idle(page)
        seen.append(_item_caption(page))
        code = page.get_by_test_id("stCode")
        if code.count():
            code_blocks += 1
            assert "def refund_window(order):" in code.first.inner_text()
            page.screenshot(path=str(shots / "3-long-answer-with-code.png"), full_page=True)
        if n == 0:
            page.screenshot(path=str(shots / "3-answered.png"), full_page=True)
        page.keyboard.press("Enter")
        page.get_by_text(f"This session: {n + 1} labelled").wait_for()
    assert len(set(seen)) == 3, seen
    assert code_blocks == 1  # the long answer's fenced block, shown as code
    page.screenshot(path=str(shots / "4-after-three.png"), full_page=True)
    assert page.evaluate("() => window.__xss === undefined")

    with sqlite3.connect(db_path) as conn:
        stored = conn.execute(
            "SELECT head, value, COUNT(*) FROM labels WHERE annotator = 'ann' "
            "AND current GROUP BY head, value ORDER BY head"
        ).fetchall()
    assert stored == [("hallucination", "no", 3), ("harm", "none", 3), ("tone", "polite", 3)]

    # The admin sees ann's three items on the reviewers page.
    admin = page.context.browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = admin.new_page()
        other.set_default_timeout(30_000)
        _login(other, app, "root")
        other.get_by_role("heading", name="Queue", exact=True).wait_for()
        other.screenshot(path=str(shots / "5-admin-queue.png"), full_page=True)
        other.get_by_role("link", name="Reviewers").click()
        other.get_by_role("heading", name="Reviewers", exact=True).wait_for()
        row = other.get_by_role("row").filter(has_text="ann").first
        row.wait_for()
        other.screenshot(path=str(shots / "6-admin-reviewers.png"), full_page=True)
        cells = [c.strip() for c in row.inner_text().split("\t")]
        assert cells[:3] == ["ann", "3", "0"], cells
    finally:
        admin.close()
