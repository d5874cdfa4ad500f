"""The Prometheus collector: the last run's lights with interval bounds, and open alerts."""

from __future__ import annotations

from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, generate_latest

from evalkit.settings import Settings
from evalkit.store import watch as store
from evalkit.store.database import Database
from evalkit.watch.metrics import QualityIndexCollector, write_snapshot
from evalkit.watch.rules import CellState
from evalkit.watch.run import WatchRun


def test_collector_exposes_rates_with_bounds_states_and_open_alerts(tmp_path):
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    db = Database.open(settings.resolved_database_url)
    registry = CollectorRegistry()
    registry.register(QualityIndexCollector(db, settings))
    assert b"evalkit_watch_value" in generate_latest(registry)  # no run yet: families, no samples
    red = CellState(
        rule="hall", metric="hallucination_rate", by="model_version", cell="v2", state="red",
        value=0.12, low=0.09, high=0.15, n=300, exposure_per_day=900, reason="r", action="a",
        owner=None,
    )  # fmt: skip
    drift = CellState(
        rule="psi", metric="psi", by="intent", cell="refund", state="insufficient",
        value=float("nan"), low=float("nan"), high=float("nan"), n=3, exposure_per_day=1,
        reason="r", action="a", owner=None,
    )  # fmt: skip
    write_snapshot(settings, WatchRun(datetime(2026, 11, 16, tzinfo=UTC), [red, drift]))
    store.open_alert(db, key=red.key, rule="hall", cell={"model_version": "v2"}, state="red",
                     value=0.12, message="m", owner=None, action=None)  # fmt: skip
    text = generate_latest(registry).decode()
    labels = 'by="model_version",cell="v2",metric="hallucination_rate",rule="hall"'
    assert f"evalkit_watch_value{{{labels}}} 0.12" in text
    assert f"evalkit_watch_low{{{labels}}} 0.09" in text
    assert f"evalkit_watch_high{{{labels}}} 0.15" in text
    assert 'evalkit_watch_state{by="model_version",cell="v2",rule="hall"} 2.0' in text
    assert 'evalkit_watch_state{by="intent",cell="refund",rule="psi"} -1.0' in text
    assert 'cell="refund",metric="psi"' not in text.split("evalkit_watch_state")[0]
    assert 'evalkit_watch_open_alerts{rule="hall"} 1.0' in text
    assert "evalkit_watch_last_run_timestamp_seconds 1.7947872e+09" in text
    db.dispose()


def test_the_api_serves_the_quality_index_on_metrics(tmp_path):
    from fastapi.testclient import TestClient

    from evalkit.api.app import create_app

    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    state = CellState(
        rule="hall", metric="hallucination_rate", by="model_version", cell="v2", state="red",
        value=0.12, low=0.09, high=0.15, n=300, exposure_per_day=900, reason="r", action="a",
        owner=None,
    )  # fmt: skip
    write_snapshot(settings, WatchRun(datetime(2026, 11, 16, tzinfo=UTC), [state]))
    with TestClient(create_app(settings, require_auth=False)) as client:
        body = client.get("/metrics").text
    assert 'evalkit_watch_state{by="model_version",cell="v2",rule="hall"} 2.0' in body
