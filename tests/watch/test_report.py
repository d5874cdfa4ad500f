"""`evalkit report` on the demo store: self-contained, escaped, red lights linked to their
responses; rendered in headless Chromium with every network request refused."""

from __future__ import annotations

import re
from pathlib import Path

from evalkit.watch.report import write_report
from evalkit.watch.rules import load_rules
from tests.watch.demo_store import MALICIOUS, bag_of_words

RULES = Path(__file__).resolve().parents[2] / "evalkit" / "demo" / "watch_rules.yaml"


def _report(demo, tmp_path: Path) -> Path:
    db, settings, _ = demo
    out = tmp_path / "report.html"
    run = write_report(db, settings, load_rules(RULES), out, encode=bag_of_words)
    assert run.red
    return out


def test_report_is_self_contained_and_escapes_responses(demo, tmp_path):
    html = _report(demo, tmp_path).read_text(encoding="utf-8")
    assert "<script" not in html.lower().replace("&lt;script", "")
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert MALICIOUS not in html
    assert "&lt;script&gt;window.__xss" in html
    # the red light links to the section listing the responses behind it
    anchor = re.search(r'<a href="#(ex-hallucination-by-version[^"]+)"', html)
    assert anchor and f'id="{anchor.group(1)}"' in html
    assert html.count("<svg") >= 6


def test_report_renders_in_chromium_without_requests(demo, tmp_path, page):
    path = _report(demo, tmp_path)
    requests: list[str] = []
    page.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()))
    page.goto(path.as_uri())
    shots = tmp_path / "screenshots"
    shots.mkdir()
    page.screenshot(path=str(shots / "report-top.png"))
    assert requests == [path.as_uri()]  # the page itself, nothing else
    assert page.evaluate("() => window.__xss") is None
    page.get_by_role("link", name=re.compile("hallucination-by-version")).first.click()
    section = page.get_by_role("heading", name=re.compile("hallucination-by-version .* \\(red\\)"))
    section.wait_for()
    assert page.get_by_text("window.__xss", exact=False).first.is_visible()
    page.screenshot(path=str(shots / "report-examples.png"))
    assert (shots / "report-examples.png").stat().st_size > 10_000
