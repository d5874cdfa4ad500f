"""The quality index as Prometheus metrics, for teams that already chart in Grafana.

``QualityIndexCollector`` exposes the lights of the last ``evalkit watch`` run (its snapshot,
``<data_dir>/watch/last_run.json``, written by every run) and the open alerts in the store:

- ``evalkit_watch_value{rule,metric,by,cell}`` with ``evalkit_watch_low`` / ``_high`` (the 95%
  interval, where the KPI has one), so a rate, a PSI or a drift AUC charts with its band;
- ``evalkit_watch_state{rule,by,cell}``: 0 green, 1 yellow, 2 red, -1 not enough data;
- ``evalkit_watch_open_alerts{rule}`` and ``evalkit_watch_last_run_timestamp_seconds``.

A scrape reads a small file and one query: it never re-evaluates the rules (embedding drift
alone can take seconds), so scraping stays cheap however often Prometheus asks. Register it on
the API's registry: ``evalkit.api.metrics.add_collector(app, QualityIndexCollector(db,
settings))`` (so that, with several server processes, it is asked once per scrape).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from evalkit.settings import Settings
from evalkit.store.database import Database

STATE_VALUES = {"green": 0, "yellow": 1, "red": 2, "insufficient": -1}


def snapshot_path(settings: Settings) -> Path:
    return settings.data_dir / "watch" / "last_run.json"


def write_snapshot(settings: Settings, run: Any) -> Path:
    """Keep the lights of ``run`` (a ``WatchRun``) for the collector; written atomically."""
    path = snapshot_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    states = [
        {
            "rule": s.rule,
            "metric": s.metric,
            "by": s.by or "all",
            "cell": s.cell,
            "state": s.state,
            "value": s.value,
            "low": s.low,
            "high": s.high,
        }
        for s in run.states
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"at": run.at.timestamp(), "states": states}), encoding="utf-8")
    tmp.replace(path)
    return path


class QualityIndexCollector(Collector):
    """Gauges of the last watch run's lights and the store's open alerts."""

    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        labels = ["rule", "metric", "by", "cell"]
        value = GaugeMetricFamily(
            "evalkit_watch_value", "KPI value per rule and cell", labels=labels
        )
        low = GaugeMetricFamily("evalkit_watch_low", "95% interval low bound", labels=labels)
        high = GaugeMetricFamily("evalkit_watch_high", "95% interval high bound", labels=labels)
        state = GaugeMetricFamily(
            "evalkit_watch_state",
            "Light per rule and cell: 0 green, 1 yellow, 2 red, -1 not enough data",
            labels=["rule", "by", "cell"],
        )
        last = GaugeMetricFamily(
            "evalkit_watch_last_run_timestamp_seconds", "When the last evalkit watch run evaluated"
        )
        path = snapshot_path(self.settings)
        if path.exists():
            snap = json.loads(path.read_text(encoding="utf-8"))
            last.add_metric([], float(snap["at"]))
            for s in snap["states"]:
                key = [s["rule"], s["metric"], s["by"], s["cell"]]
                for family, name in ((value, "value"), (low, "low"), (high, "high")):
                    number = s[name]
                    if number is not None and not math.isnan(number):
                        family.add_metric(key, float(number))
                state.add_metric([s["rule"], s["by"], s["cell"]], STATE_VALUES[s["state"]])
        yield from (value, low, high, state, last)
        from evalkit.store import watch as store  # pandas: imported on the first scrape only

        alerts = GaugeMetricFamily(
            "evalkit_watch_open_alerts", "Open watch alerts per rule", labels=["rule"]
        )
        for rule, count in Counter(a.rule for a in store.alerts(self.db, status="open")).items():
            alerts.add_metric([rule], count)
        yield alerts
