"""What the dashboard and the static report show, computed once: lights, series, examples.

View models for both front ends (the Streamlit pages and ``evalkit report``): plain data and
SVG strings, no widgets. ``examples`` gives the responses behind any light — for a rate, the
labelled responses of that cell and window, positives first; for drift, the cell's current
texts — so a red light is two clicks from the responses that made it red.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from evalkit.store import watch as store
from evalkit.store.database import Database
from evalkit.watch import charts
from evalkit.watch.data import WatchData
from evalkit.watch.drift import feature_drift
from evalkit.watch.estimate import rates_by
from evalkit.watch.evaluate import kpi_table
from evalkit.watch.kpis import FEATURES, RATE_HEADS
from evalkit.watch.rules import Rule
from evalkit.watch.run import WatchRun


@dataclass
class Overview:
    run: WatchRun
    rules: dict[str, Rule]
    lights: pd.DataFrame  # rule, cell, state, value, reason, action, owner, key
    alerts: list[store.Alert]
    charts: dict[str, str] = field(default_factory=dict)
    markers: list[tuple[datetime, str]] = field(default_factory=list)


def lights(run: WatchRun) -> pd.DataFrame:
    order = {"red": 0, "yellow": 1, "insufficient": 2, "green": 3}
    frame = pd.DataFrame(
        [
            {
                "rule": s.rule,
                "metric": s.metric,
                "by": s.by or "all",
                "cell": s.cell,
                "state": s.state,
                "value": s.value,
                "low": s.low,
                "high": s.high,
                "n": s.n,
                "per_day": s.exposure_per_day,
                "reason": s.reason,
                "action": s.action,
                "owner": s.owner or "",
                "key": s.key,
                "method": s.method,
            }
            for s in run.states
        ]
    )
    if frame.empty:
        return frame
    frame["rank"] = frame["state"].map(order)
    return frame.sort_values(["rank", "rule", "cell"]).drop(columns="rank")


def markers(data: WatchData) -> list[tuple[datetime, str]]:
    """Release markers: gate runs, and the first response of each model and prompt version."""
    out = [
        (row.finished_at.to_pydatetime(), f"gate {row.suite}: {row.candidate}")
        for row in data.releases.itertuples()
    ]
    t = data.traffic
    for column in ("model_version", "prompt_version"):
        if column in t and not t.empty:
            first = t.groupby(column)["created_at"].min().sort_values()
            out += [
                (when.to_pydatetime(), f"{column} {name}") for name, when in first.iloc[1:].items()
            ]
    return sorted(out)


def rate_series(data: WatchData, head: str, by: str, freq: str = "1D") -> dict[str, list]:
    """Per cell, the rate of each period with its interval: {cell: [(t, est, low, high)]}."""
    sample = data.sample(head)
    if sample.empty:
        return {}
    sample = sample.assign(
        w_period=sample["created_at"].dt.floor(freq), w_cell=sample[by].astype(str)
    )
    table = rates_by(sample, ["w_cell", "w_period"])
    series: dict[str, list] = {}
    for row in table.itertuples():
        series.setdefault(str(row.w_cell), []).append(
            (row.w_period.to_pydatetime(), row.estimate, row.low, row.high)
        )
    return series


def psi_series(
    data: WatchData, feature: str, by: str, *, reference_days: int = 7, freq: str = "1D"
) -> dict[str, list]:
    """Per cell, the daily PSI of ``feature`` against the first ``reference_days`` of data."""
    t = data.traffic
    if t.empty:
        return {}
    start = t["created_at"].min()
    ref = t.loc[t["created_at"] < start + pd.Timedelta(days=reference_days)]
    series: dict[str, list] = {}
    for (cell, day), part in t.groupby([t[by].astype(str), t["created_at"].dt.floor(freq)]):
        base = ref.loc[ref[by].astype(str) == cell, feature]
        if len(part) < 30 or base.empty:  # PSI on a handful of texts is noise
            continue
        r = feature_drift(feature, base, part[feature], kind=FEATURES.get(feature))
        series.setdefault(cell, []).append((day.to_pydatetime(), r.psi, np.nan, np.nan))
    return series


def build(db: Database, run: WatchRun, rules: list[Rule], data: WatchData) -> Overview:
    """Lights, open alerts and the charts of the index."""
    view = Overview(run, {r.name: r for r in rules}, lights(run), store.alerts(db, status="open"))
    view.markers = markers(data)
    if len(view.lights):
        per_model = view.lights.loc[view.lights["by"].isin(["model_id", "model_version"])]
        view.charts["lights"] = charts.lights_grid(
            [
                (r.rule, r.cell, r.state, f"{r.rule} {r.cell}: {r.reason}")
                for r in per_model.itertuples()
            ],
            title="Lights per model and KPI",
        )
    for head in ("hallucination", "harm", "impolite"):
        view.charts[f"{head}_by_version"] = charts.time_series(
            rate_series(data, head, "model_version", freq="2D"),
            title=f"{head} rate by model version (2-day windows, 95% interval)",
            markers=view.markers,
        )
    view.charts["psi_prompt_by_intent"] = charts.time_series(
        psi_series(data, "prompt_chars", "intent", freq="2D"),
        title="prompt-length PSI by intent vs the first week",
        percent=False,
        threshold=0.2,
        markers=view.markers,
    )
    for rule in rules:
        cells = view.lights.loc[view.lights["rule"] == rule.name] if len(view.lights) else None
        if cells is None or cells.empty:
            continue
        percent = rule.metric.endswith(("_rate", "_drop")) or rule.metric == "cohort_gap"
        view.charts[f"rule:{rule.name}"] = charts.intervals(
            [
                (r.cell, r.value, r.low, r.high, r.state)
                for r in cells.sort_values("cell").itertuples()
            ],
            title=f"{rule.name}: {rule.metric}" + (f" by {rule.by}" if rule.by else ""),
            percent=percent,
            threshold=rule.red,
        )
    return view


#: The rates the drill-down offers, by label: human-label rates, then traffic-wide ones.
DRILL_METRICS = {
    "hallucination rate": "hallucination_rate",
    "harm rate": "harm_rate",
    "impolite rate": "impolite_rate",
    "guard flag rate": "guard_flag_rate",
    "refusal rate": "refusal_rate",
    "escalation rate": "escalation_rate",
    "conversion rate": "conversion_rate",
}
#: The dimensions the drill-down splits by, by label (cohorts: user segment and tenant).
DRILL_DIMENSIONS = {
    "model": "model_id",
    "model version": "model_version",
    "intent": "intent",
    "user segment": "user_segment",
    "tenant": "tenant",
}


def drill_rule(metric: str, by: str, window: timedelta) -> Rule:
    """The rule-shaped question a drill-down asks: ``metric`` per ``by`` over ``window``."""
    return Rule(name=f"drill-down {metric} by {by}", metric=metric, red=1.0, by=by, window=window)


def drill_down(data: WatchData, metric: str, by: str, *, at: datetime,
               window: timedelta) -> pd.DataFrame:  # fmt: skip
    """``metric`` for each value of ``by`` over ``[at − window, at)``, with its 95% interval:
    the KPI table (``cell``, ``value``, ``low``, ``high``, ``n``, ``exposure``, ``method``,
    ``note``), largest value first, cells without a value last."""
    rule = drill_rule(metric, by, window)
    now = data.window(at - window, at)
    table = kpi_table(rule, now, now)
    table = table.assign(_missing=table["value"].isna())
    table = table.sort_values(["_missing", "value", "cell"], ascending=[True, False, True])
    return table.drop(columns="_missing").reset_index(drop=True)


def drill_chart(table: pd.DataFrame, metric: str, by: str) -> str:
    """The drill-down table as one interval per value (SVG, texts escaped)."""
    label = next((k for k, v in DRILL_METRICS.items() if v == metric), metric)
    dimension = next((k for k, v in DRILL_DIMENSIONS.items() if v == by), by)
    return charts.intervals(
        [(str(r.cell), r.value, r.low, r.high, "") for r in table.itertuples()],
        title=f"{label} by {dimension} (95% interval)",
    )


def _positives_first(frame: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The responses that make a traffic-wide rate first (refused, flagged, escalated …)."""
    positive = {
        "refusal_rate": lambda f: f.get("refused", pd.Series(0.0, index=f.index)) > 0,
        "guard_flag_rate": lambda f: f["decision"].isin(["review", "block"]),
        "escalation_rate": lambda f: f["outcome"] == "escalated",
        "conversion_rate": lambda f: f["outcome"] == "converted",
        "resolution_rate": lambda f: f["outcome"] == "resolved",
    }.get(metric)
    if positive is None or frame.empty:
        return frame.sort_values("created_at", ascending=False)
    frame = frame.assign(_positive=positive(frame).fillna(False).astype(bool))
    frame = frame.sort_values(["_positive", "created_at"], ascending=[False, False])
    return frame.drop(columns="_positive")


def examples(db: Database, data: WatchData, rule: Rule, cell: str, *, at: datetime,
             limit: int = 20) -> pd.DataFrame:  # fmt: skip
    """The responses behind one light: id, time, cell, label, guard decision, prompt, response.

    For a human-label rate, the labelled responses of the cell and window, positives first; for
    a traffic-wide rate, the ones it counts first (refused, flagged, escalated); for latency
    the slowest; otherwise the newest.
    """
    window = data.window(at - rule.window, at)
    head = RATE_HEADS.get(rule.metric) or (rule.head if rule.metric == "cohort_gap" else None)
    if head is not None and head in RATE_HEADS.values():
        frame = window.sample(head)
        frame = frame.sort_values(["y", "created_at"], ascending=[False, False])
    else:
        frame = window.traffic
        if rule.metric.startswith("latency"):
            frame = frame.sort_values("latency_ms", ascending=False)
        else:
            metric = f"{head}_rate" if head else rule.metric
            frame = _positives_first(frame, metric)
    if rule.by:
        frame = frame.loc[frame[rule.by].fillna("∅").astype(str) == cell]
    frame = frame.head(limit)
    keep = [c for c in ("id", "created_at", "model_version", "intent", "tenant", "user_segment",
                        "y", "label_source", "strategy", "inclusion_probability", "decision",
                        "refused", "latency_ms", "outcome") if c in frame]  # fmt: skip
    out = frame[keep].rename(columns={"y": "label_positive"})
    text = store.texts(db, out["id"].tolist())
    return out.merge(text, on="id", how="left")


def since_for(rules: list[Rule], at: datetime) -> datetime:
    return at - max([r.window * 2 + (r.baseline or timedelta(0)) for r in rules] + [timedelta(14)])
