"""Fixtures for the reviewer app: its view-model package on the path, a real ``streamlit run``
on a free loopback port, and headless Debian Chromium driven by Playwright.

``streamlit run reviewer_app/Home.py`` puts ``reviewer_app/`` on ``sys.path``, which is how the
pages import ``views``; the tests do the same so they call the very modules the pages call.
Chromium is the system one (``apt-get install chromium``; ``playwright install`` cannot download
browsers here); without it the browser tests skip with the reason (fail in CI).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from evalkit.store.database import Database
from tests.conftest import require_service
from tests.helpers import stop_process

APP_DIR = Path(__file__).resolve().parents[2] / "reviewer_app"
if str(APP_DIR) not in sys.path:
    sys.path.insert(0, str(APP_DIR))

CHROMIUM = os.environ.get("EVALKIT_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: A cold ``streamlit run`` (imports, first script run) takes a few seconds on a busy machine.
APP_START_TIMEOUT_S = 60.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@pytest.fixture
def serve_app(tmp_path: Path) -> Iterator[Callable[[dict[str, str]], str]]:
    """``serve_app(env)`` starts the reviewer app as the demo does and returns its URL."""
    started: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> str:
        port = _free_port()
        log = (tmp_path / f"streamlit-{port}.log").open("wb")
        command = [sys.executable, "-m", "streamlit", "run", str(APP_DIR / "Home.py")]
        command += ["--server.headless", "true", "--server.address", "127.0.0.1"]
        command += ["--server.port", str(port), "--browser.gatherUsageStats", "false"]
        command += ["--server.fileWatcherType", "none", "--client.toolbarMode", "minimal"]
        proc = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
        )
        started.append(proc)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + APP_START_TIMEOUT_S
        while not _answers(f"{url}/_stcore/health"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"streamlit did not start: {log.name}")
            time.sleep(0.3)
        return url

    yield start
    for proc in started:
        stop_process(proc)


def _drop_leftover_event_loop() -> None:
    """A session fixture never runs inside an event loop, yet an earlier test in the same
    worker can leave one registered as running in this thread (seen in CI: the watch page's
    browser tests after other suites in one xdist worker; nest_asyncio, which deepeval
    brings, keeps loops marked as running). Playwright's sync API then refuses to start
    ("using Playwright Sync API inside the asyncio loop"). Nothing can be awaiting it here."""
    import asyncio.events

    if asyncio.events._get_running_loop() is not None:
        asyncio.events._set_running_loop(None)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        require_service(f"no Chromium at {CHROMIUM}: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright

    _drop_leftover_event_loop()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            with contextlib.suppress(Exception):
                launched.close()


@pytest.fixture
def page(browser: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh browser page; on failure a screenshot is left in the test's folder."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    try:
        yield tab
    finally:
        with contextlib.suppress(Exception):
            tab.screenshot(path=str(tmp_path / "last.png"), full_page=True)
        context.close()


# --- a store with reviewers and a queue -------------------------------------------------------

PASSWORD = "correct horse battery"
MALICIOUS = (
    "Sure! <script>window.__xss = 'script'</script>"
    "<img src=x onerror=\"window.__xss = 'img'\"> **not bold** [click](javascript:alert(1))"
)


LONG_ANSWER = (
    "Refunds are accepted within **30 days** of delivery. To check an order's state:\n\n"
    "```python\ndef refund_window(order):\n"
    "    return order.delivered_at + timedelta(days=30)\n```\n\n" + "Keep the receipt. " * 60
)


def seed_store(url: str, data_dir: Path, *, items: int = 4, malicious_first: bool = True) -> None:
    """Responses of two tenants, queued (the first urgent, due in 30 min), and the accounts
    ann (reviewer, acme), bea (reviewer, every tenant), judy (adjudicator), root (admin)."""
    import numpy as np

    from evalkit.capture.ingest import Ingestor
    from evalkit.review import add_reviewer
    from evalkit.review.types import NewItem
    from evalkit.sample.enqueue import enqueue_flagged, enqueue_selection
    from evalkit.settings import Settings
    from tests.helpers import record

    settings = Settings(data_dir=data_dir, database_url=url, _env_file=None)  # type: ignore[call-arg]
    db = Database.open(url)
    try:
        rows = [record(i, tenant="acme") for i in range(items)] + [
            record(100 + i, tenant="globex") for i in range(2)
        ]
        if malicious_first:
            rows[0]["response"] = MALICIOUS
        rows[1]["response"] = LONG_ANSWER
        assert Ingestor(db, settings).ingest_records(rows).stored == len(rows)
        enqueue_flagged(db, [rows[0]["id"]], reason="guard: risky", due_in=timedelta(minutes=30))
        rest = [NewItem(r["id"], "random", 0.1, stratum=r["tenant"]) for r in rows[1:]]
        enqueue_selection(db, rest, rng=np.random.default_rng(0))
        add_reviewer(db, "ann", tenants=["acme"], display_name="Ann", password=PASSWORD)
        add_reviewer(db, "bea", display_name="Bea", password=PASSWORD)
        add_reviewer(db, "judy", role="adjudicator", password=PASSWORD)
        add_reviewer(db, "root", role="admin", password=PASSWORD)
    finally:
        db.dispose()


@pytest.fixture
def seeded_url(store_url: str, tmp_path: Path) -> str:
    seed_store(store_url, tmp_path / "data")
    return store_url


#: Two answers to the same overlap item that disagree on hallucination and harm.
A = {"hallucination": "yes", "tone": "polite", "harm": {"value": "high", "category": "financial"}}
B = {"hallucination": "no", "tone": "polite", "harm": "none"}


@pytest.fixture
def disputed(
    seeded_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Database]:
    """The seeded store plus one overlap item (two reviews) on which ann and bea disagree."""
    monkeypatch.setenv("EVALKIT_DATABASE_URL", seeded_url)
    import numpy as np

    from evalkit.capture.ingest import Ingestor
    from evalkit.review import claim, get_reviewer, submit
    from evalkit.review.types import NewItem
    from evalkit.sample.enqueue import enqueue_selection
    from evalkit.settings import Settings
    from tests.helpers import record

    db = Database.open(seeded_url)
    settings = Settings(data_dir=tmp_path / "d", database_url=seeded_url, _env_file=None)  # type: ignore[call-arg]
    Ingestor(db, settings).ingest_records([record(500, tenant="acme")])
    enqueue_selection(
        db,
        [NewItem("r-500", "random", 0.1, priority=1000, required_reviews=2)],
        rng=np.random.default_rng(0),
    )
    for name, answer in (("ann", A), ("bea", B)):
        reviewer = get_reviewer(db, name)
        item = claim(db, reviewer)
        assert item is not None and item.response.id == "r-500"
        submit(db, reviewer, item.item_id, answer)
    yield db
    db.dispose()
