"""Evaluate rules once: the lights per rule and cell, with persistence over trailing windows.

``evaluate(rules, data, at=...)`` is pure (data in, states out); ``evalkit.watch.run`` adds
the store, the alert bookkeeping and the webhook around it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from evalkit.watch import kpis
from evalkit.watch.data import WatchData
from evalkit.watch.rules import CellState, Rule

Embedder = Callable[[pd.DataFrame, str], np.ndarray]


def kpi_table(
    rule: Rule,
    now: WatchData,
    reference: WatchData,
    *,
    embedding_drift: Callable[[WatchData, WatchData, str | None, str], pd.DataFrame] | None = None,
    max_rows: int = 5000,
) -> pd.DataFrame:
    """The KPI of ``rule`` for each cell of ``now`` (``reference``: the baseline window)."""
    m, by = rule.metric, rule.by
    if m in kpis.RATE_HEADS:
        return kpis.human_rate(now, kpis.RATE_HEADS[m], by)
    if m == "refusal_rate":
        return kpis.refusal_rate(now, by)
    if m == "guard_flag_rate":
        return kpis.guard_flag_rate(now, by)
    if m in kpis.OUTCOME_RATES:
        return kpis.outcome_rate(now, by, kpis.OUTCOME_RATES[m])
    if m in ("conversion_drop", "resolution_drop"):
        outcomes = ("converted",) if m == "conversion_drop" else ("resolved",)
        return kpis.outcome_drop(now, reference, by, outcomes)
    if m.startswith("latency_p"):
        return kpis.quantile(now, by, "latency_ms", int(m[len("latency_p") :]) / 100)
    if m == "cost_per_query":
        return kpis.mean_of(now, by, "cost")
    if m == "tokens_per_query":
        frame = now.traffic.assign(
            tokens=now.traffic["input_tokens"] + now.traffic["output_tokens"]
        )
        return kpis.mean_of(now.with_traffic(frame), by, "tokens")
    if m == "psi":
        return kpis.psi(now, reference, by, rule.feature or "", max_rows=max_rows)
    if m == "cohort_gap":
        return kpis.cohort_gap(now, by or "", rule.head or "", rule.min_gap)
    if m == "embedding_drift":
        if embedding_drift is None:
            return pd.DataFrame(columns=kpis.COLUMNS)
        return embedding_drift(now, reference, by, rule.feature or "prompt")
    raise AssertionError(m)


def _judge_at(rule: Rule, data: WatchData, at: datetime, **kw) -> dict[str, tuple]:
    now = data.window(at - rule.window, at)
    offset = rule.baseline or rule.window
    reference = data.window(at - offset - rule.window, at - offset)
    table = kpi_table(rule, now, reference, **kw)
    days = rule.window / timedelta(days=1)
    out = {}
    for row in table.to_dict("records"):
        cell = str(row["cell"])
        if rule.only and cell not in rule.only:
            continue
        state, reason = rule.judge(row, days)
        out[cell] = (state, reason, row, row["exposure"] / days)
    return out


def evaluate_rule(rule: Rule, data: WatchData, *, at: datetime, **kw) -> list[CellState]:
    """States of one rule's cells at ``at``, red only when red at every point of persistence."""
    current = _judge_at(rule, data, at, **kw)
    points = int(rule.persistence / rule.step) if rule.persistence > timedelta(0) else 0
    history = [_judge_at(rule, data, at - k * rule.step, **kw) for k in range(1, points + 1)]
    states = []
    for cell, (state, reason, row, per_day) in sorted(current.items()):
        held = timedelta(0)
        if state == "red":
            for past in history:
                if past.get(cell, ("",))[0] != "red":
                    break
                held += rule.step
            if points and held < rule.persistence:
                state = "yellow"
                reason = (
                    f"{reason}, but only for {_hours(held)} of the {_hours(rule.persistence)} "
                    "it must persist"
                )
            elif points:
                reason = f"{reason} for {_hours(rule.persistence)}"
        states.append(
            CellState(
                rule=rule.name,
                metric=rule.metric,
                by=rule.by,
                cell=cell,
                state=state,
                value=float(row["value"]) if pd.notna(row["value"]) else float("nan"),
                low=float(row["low"]) if pd.notna(row["low"]) else float("nan"),
                high=float(row["high"]) if pd.notna(row["high"]) else float("nan"),
                n=int(row["n"]),
                exposure_per_day=float(per_day),
                reason=reason,
                action=rule.actions.get(state, ""),
                owner=rule.owner,
                method=str(row.get("method") or ""),
                held_for=held,
            )
        )
    return states


def _hours(delta: timedelta) -> str:
    hours = delta / timedelta(hours=1)
    return f"{hours:.0f}h" if hours < 48 else f"{hours / 24:.0f}d"


def evaluate(rules: list[Rule], data: WatchData, *, at: datetime, **kw) -> list[CellState]:
    return [state for rule in rules for state in evaluate_rule(rule, data, at=at, **kw)]


#: Metrics compared with a reference window (``baseline`` back, default one window back).
WITH_REFERENCE = frozenset({"psi", "embedding_drift", "conversion_drop", "resolution_drop"})


def rule_lookback(rule: Rule) -> timedelta:
    """How far back one rule reads: its window, its persistence (each past evaluation point
    looks one window back) and, for a comparison, the reference window's offset."""
    offset = (rule.baseline or rule.window) if rule.metric in WITH_REFERENCE else timedelta(0)
    return rule.window + offset + rule.persistence


def lookback(rules: list[Rule]) -> timedelta:
    """How far back the data must reach for these rules (window, baseline, persistence)."""
    if not rules:
        return timedelta(days=7)
    return max(rule_lookback(r) for r in rules)
