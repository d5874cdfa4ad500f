"""The webhook against a stand-in HTTP server on loopback: delivery, retries, refusals, and
alerts that are sent once while open and once when they close."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evalkit.settings import Settings
from evalkit.store import watch as store
from evalkit.store.database import Database
from evalkit.watch.notify import post_json
from evalkit.watch.rules import CellState
from evalkit.watch.run import WatchRun, _sync_alerts


class Receiver:
    """A loopback HTTP server that answers each POST with the next status of ``script``."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.bodies: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                status = receiver.script.pop(0) if receiver.script else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def test_delivery_retries_server_errors_then_succeeds():
    waits = []
    with Receiver([503, 500, 200]) as hook:
        result = post_json(hook.url, {"a": 1}, retries=3, backoff=0.1, sleep=waits.append)
    assert result.ok and result.attempts == 3
    assert waits == [0.1, 0.2]
    assert hook.bodies == [{"a": 1}] * 3


def test_a_refusal_is_not_retried_and_an_unreachable_hook_fails_after_retries():
    with Receiver([400]) as hook:
        refused = post_json(hook.url, {}, retries=3, sleep=lambda s: None)
    assert not refused.ok and refused.attempts == 1 and "not retried" in refused.detail
    gone = post_json("http://127.0.0.1:9/none", {}, retries=2, timeout=0.5, sleep=lambda s: None)
    assert not gone.ok and gone.attempts == 3 and "ConnectError" in gone.detail


def _state(value: float) -> CellState:
    return CellState(
        rule="hall", metric="hallucination_rate", by="model_version", cell="v2", state="red",
        value=value, low=value - 0.02, high=value + 0.02, n=200, exposure_per_day=900.0,
        reason="interval low above 5%", action="roll back", owner="ml",
    )  # fmt: skip


@pytest.fixture
def alert_db(store_url: str):
    db = Database.open(store_url)
    yield db
    db.dispose()


def test_alerts_are_sent_once_while_open_retried_until_delivered_and_closed(
    alert_db, tmp_path: Path
):
    with Receiver([503, 503]) as hook:
        settings = Settings(  # type: ignore[call-arg]
            data_dir=tmp_path, watch_webhook_url=hook.url, watch_webhook_retries=1,
            _env_file=None,
        )  # fmt: skip
        run = WatchRun(at=None, states=[_state(0.09)])  # type: ignore[arg-type]
        _sync_alerts(alert_db, settings, run, notify=True)  # both attempts fail
        [alert] = store.alerts(alert_db, status="open")
        assert alert.notified_at is None and alert.notify_attempts == 1
        _sync_alerts(alert_db, settings, WatchRun(None, [_state(0.1)]), notify=True)  # type: ignore[arg-type]
        [alert] = store.alerts(alert_db, status="open")
        assert alert.notified_at is not None and alert.value == pytest.approx(0.1)
        _sync_alerts(alert_db, settings, WatchRun(None, [_state(0.11)]), notify=True)  # type: ignore[arg-type]
        assert len(hook.bodies) == 3  # two failed + one delivered; nothing while it stays open
        _sync_alerts(alert_db, settings, WatchRun(None, []), notify=True)  # type: ignore[arg-type]
        assert [b["event"] for b in hook.bodies] == ["opened", "opened", "opened", "closed"]
    assert store.alerts(alert_db, status="open") == []
    kinds = [e["kind"] for e in store.alert_events(alert_db, alert.id)]
    assert kinds == ["opened", "notified_failed", "notified", "closed", "resolved_notified"]
