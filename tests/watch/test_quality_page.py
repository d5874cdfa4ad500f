"""The Quality page in headless Chromium: from a red light to the responses behind it in two
clicks, untrusted text shown as text."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

import yaml

from evalkit.errors import EvalkitError
from evalkit.review import add_reviewer

RULES = Path(__file__).resolve().parents[2] / "evalkit" / "demo" / "watch_rules.yaml"
PASSWORD = "correct horse battery"


def test_red_light_to_examples_in_two_clicks(demo, serve_app, page, tmp_path):
    db, settings, _ = demo
    with contextlib.suppress(EvalkitError):  # the session's store may have it already
        add_reviewer(db, "root", role="admin", password=PASSWORD)
    # the embedding rule would load MiniLM in the app; the rest is what the page shows
    spec = yaml.safe_load(RULES.read_text())
    spec["rules"] = [r for r in spec["rules"] if r["metric"] != "embedding_drift"]
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(spec))
    app = serve_app(
        {
            "EVALKIT_DATABASE_URL": settings.resolved_database_url,
            "EVALKIT_DATA_DIR": str(settings.data_dir),
            "EVALKIT_WATCH_RULES": str(rules),
        }
    )
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page.goto(app)
    page.get_by_label("Username").focus()
    page.keyboard.type("root")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Queue", exact=True).wait_for()  # where an admin lands
    page.get_by_role("link", name="Quality").click()
    page.get_by_role("heading", name="Quality index", exact=True).wait_for(timeout=120_000)
    page.screenshot(path=str(shots / "1-index.png"), full_page=True)
    # click 1: the red light
    red = page.get_by_role("button", name=re.compile("hallucination-by-version.*swift-mini-0.9.5"))
    red.click()
    page.get_by_text("labelled positives first", exact=False).wait_for(timeout=60_000)
    # click 2: the first response behind it, shown as text (the script never runs)
    page.get_by_text(re.compile(r"w7-\d+ · label 1")).first.click()
    page.get_by_text("<script>window.__xss", exact=False).first.wait_for()
    assert page.evaluate("() => window.__xss") is None
    page.screenshot(path=str(shots / "2-examples.png"), full_page=True)
