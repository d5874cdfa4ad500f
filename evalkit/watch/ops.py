"""Operational and business figures over all traffic: latency, tokens, cost, outcomes, ROI.

These are censuses of the traffic (no sampling), per model and route (the intent a request was
routed for). **Cost per successful outcome** counts the model's cost and the human review of
the responses behind it (reviewer seconds × ``review_hourly_rate``), divided by the responses
whose outcome is a success (converted or resolved); ROI per route is
``(conversions × value_per_conversion − cost) / cost`` when a value per conversion is set.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.watch.data import SUCCESS, WatchData


def _q(q: float):
    def f(s: pd.Series) -> float:
        return float(s.quantile(q)) if s.notna().any() else float("nan")

    f.__name__ = f"p{round(q * 100)}"
    return f


def ops_table(
    data: WatchData,
    by: list[str],
    *,
    hourly_rate: float = 0.0,
    value_per_conversion: float = 0.0,
) -> pd.DataFrame:
    """One row per group of ``by`` (e.g. ``["model_id"]`` or ``["model_id", "intent"]``)."""
    t = data.traffic.copy()
    if t.empty:
        return pd.DataFrame()
    t["tokens"] = t["input_tokens"].fillna(0) + t["output_tokens"].fillna(0)
    seconds = data.seconds.set_index("response_id")["seconds"] if not data.seconds.empty else {}
    t["review_cost"] = t["id"].map(seconds).fillna(0.0).astype(float) / 3600 * hourly_rate
    known = t["outcome"].notna() & (t["outcome"] != "unknown")
    t["known"] = known
    t["success"] = t["outcome"].isin(SUCCESS)
    t["converted"] = t["outcome"] == "converted"
    t["escalated"] = t["outcome"] == "escalated"
    t["flagged"] = t.get("decision", pd.Series(index=t.index, dtype=object)).isin(
        ["review", "block"]
    )
    g = t.groupby(by, dropna=False)
    out = pd.DataFrame(
        {
            "responses": g.size(),
            "latency_p50": g["latency_ms"].agg(_q(0.5)),
            "latency_p95": g["latency_ms"].agg(_q(0.95)),
            "latency_p99": g["latency_ms"].agg(_q(0.99)),
            "tokens_mean": g["tokens"].mean(),
            "tokens_p95": g["tokens"].agg(_q(0.95)),
            "tokens_max": g["tokens"].max(),
            "cost_mean": g["cost"].mean(),
            "cost_p95": g["cost"].agg(_q(0.95)),
            "cost_max": g["cost"].max(),
            "model_cost": g["cost"].sum(),
            "review_cost": g["review_cost"].sum(),
            "outcome_known": g["known"].sum(),
            "successes": g["success"].sum(),
            "conversions": g["converted"].sum(),
            "escalations": g["escalated"].sum(),
            "guard_flagged": g["flagged"].sum(),
        }
    )
    if data.fraction < 1.0:
        # A sampled window (``WatchData.note``): counts and sums are the traffic's estimates,
        # scaled up by the sampling fraction; means, quantiles and the ratios below are the
        # sample's own. The worst case cannot be estimated from a sample: per model and intent
        # (and so per model) it is the window's own, read by one aggregate at load; for other
        # groupings it stays the sample's, a lower bound of the traffic's.
        if data.maxima is not None and set(by) <= {"model_id", "intent"}:
            worst = data.maxima.groupby(by, dropna=False)[["cost_max", "tokens_max"]].max()
            out[["cost_max", "tokens_max"]] = worst.reindex(out.index)
        totals = [
            "responses", "model_cost", "review_cost", "outcome_known", "successes",
            "conversions", "escalations", "guard_flagged",
        ]  # fmt: skip
        out[totals] = out[totals] / data.fraction
    known_n = out["outcome_known"].replace(0, np.nan)
    out["conversion_rate"] = out["conversions"] / known_n
    out["success_rate"] = out["successes"] / known_n
    out["escalation_rate"] = out["escalations"] / known_n
    total = out["model_cost"] + out["review_cost"]
    out["cost_per_success"] = total / out["successes"].replace(0, np.nan)
    if value_per_conversion > 0:
        out["roi"] = (out["conversions"] * value_per_conversion - total) / total.replace(0, np.nan)
    return out.reset_index()
