"""Alert rules: a KPI, green / yellow / red thresholds, a minimum exposure, a persistence window.

A rule is a small object with a default condition (evidently's lesson): ``Rule.judge`` turns a
KPI row into a ``CellState`` whose ``reason`` says why it is that colour. What keeps alerts
from crying wolf:

- **statistic**: a human-label rate is judged on its interval's lower bound by default
  (``statistic: low``): red means "above the threshold with 95% confidence", not "a noisy
  estimate crossed it" (``estimate`` or ``high`` can be chosen);
- **min_exposure** (responses a day in the cell) and **min_affected** (responses a day the rate
  affects, rate × traffic): a spike on ten requests at 3 a.m. is grey (``insufficient``), never
  red; so is a rate on fewer than ``min_labelled`` labelled items;
- **significance** for drift: a PSI or embedding shift counts only when its test (KS,
  chi-square, permutation) says chance cannot explain it, Bonferroni-corrected over the cells,
  and only with ``min_n`` texts in each window;
- **persistence**: red only if the condition held at every evaluation point over the last
  ``persistence`` (every ``step``, each over the trailing ``window``); red now but not for long
  enough is shown yellow, saying for how long it has held;
- guard-score estimates (``method`` ``score``) never turn a light red unless ``allow_score``.

Rules files are YAML: ``rules: [{name, metric, by, red, yellow, ...}]``; see README "Watch".
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from evalkit.durations import parse_duration
from evalkit.errors import UsageError

STATES = ("green", "yellow", "red", "insufficient")
DEFAULT_ACTIONS = {
    "green": "monitor",
    "yellow": "investigate",
    "red": "freeze deploys or roll back",
    "insufficient": "collect more data (label more, or wait for traffic)",
}
METRICS = (
    "hallucination_rate",
    "harm_rate",
    "impolite_rate",
    "guard_flag_rate",
    "conversion_rate",
    "resolution_rate",
    "escalation_rate",
    "success_rate",
    "refusal_rate",
    "conversion_drop",
    "resolution_drop",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "cost_per_query",
    "tokens_per_query",
    "psi",
    "embedding_drift",
    "cohort_gap",
)
#: The rates a ``cohort_gap`` rule can compare (its ``head``): the human-label rates (from the
#: probability sample), and over all traffic the refusal rate (the gate's refusal markers on
#: the response) and the outcome rates (among responses whose outcome is known).
GAP_HEADS = (
    "hallucination",
    "harm",
    "impolite",
    "refusal",
    "escalation",
    "conversion",
    "resolution",
    "success",
)


def _share(value: Any, what: str) -> float | None:
    """``0.03`` or ``3%``."""
    if value is None:
        return None
    if isinstance(value, str) and value.strip().endswith("%"):
        return float(value.strip()[:-1]) / 100
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what}: expected a number or a percentage (got {value!r})") from None


@dataclass(frozen=True)
class CellState:
    """The light of one rule in one cell, with the numbers behind it and why."""

    rule: str
    metric: str
    by: str | None
    cell: str
    state: str
    value: float
    low: float
    high: float
    n: int
    exposure_per_day: float
    reason: str
    action: str
    owner: str | None
    method: str = ""
    held_for: timedelta = timedelta(0)

    @property
    def key(self) -> str:
        return f"{self.rule}|{self.by or 'all'}={self.cell}"


@dataclass(frozen=True)
class Rule:
    """One watched KPI with its thresholds, guards against noise, action and owner."""

    name: str
    metric: str
    red: float
    yellow: float | None = None
    direction: str = "above"  # above | below: which side of the threshold is bad
    by: str | None = None
    only: tuple[str, ...] = ()  # restrict to these cells (e.g. critical intents)
    window: timedelta = timedelta(days=7)
    persistence: timedelta = timedelta(0)
    step: timedelta = timedelta(hours=6)
    baseline: timedelta | None = None  # reference window's offset (drift, drops): default window
    min_exposure: float = 0.0  # responses per day in the cell
    min_affected: float = 0.0  # responses per day the rate affects (rate × exposure)
    min_labelled: int = 30
    min_n: int = 100  # psi, embedding_drift: texts in each window (PSI is biased on fewer)
    statistic: str = "low"  # low | estimate | high: which number a rate is judged on
    feature: str | None = None  # psi: the feature; embedding_drift: prompt | response
    head: str | None = None  # cohort_gap: the rate compared (hallucination, escalation, ...)
    min_gap: float = 0.05  # cohort_gap
    allow_score: bool = False
    owner: str | None = None
    actions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_ACTIONS))

    def worse(self, value: float, threshold: float) -> bool:
        return value > threshold if self.direction == "above" else value < threshold

    def judged_value(self, value: float, low: float, high: float) -> tuple[float, str]:
        """The number compared with the thresholds, and what it is called."""
        if self.metric.endswith(("_rate", "_drop")):
            if self.statistic == "estimate":
                return value, "estimate"
            # "bad with 95% confidence": the bound on the good side of the interval
            bad_side_low = (self.direction == "above") == (self.statistic == "low")
            return (low, "interval low") if bad_side_low else (high, "interval high")
        return value, "value"

    def judge(self, row: dict[str, Any], days: float) -> tuple[str, str]:
        """The colour of one KPI row and the reason, before persistence."""
        value, low, high = row["value"], row["low"], row["high"]
        per_day = row["exposure"] / days if days else 0.0
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "insufficient", row.get("note") or "no data"
        if per_day < self.min_exposure:
            return "insufficient", (
                f"exposure {per_day:.0f}/day below the minimum {self.min_exposure:.0f}/day"
            )
        labelled = self.metric in ("hallucination_rate", "harm_rate", "impolite_rate")
        if labelled and row.get("method") == "score" and not self.allow_score:
            return "insufficient", f"only the guard's score ({value:.1%}); no human labels"
        if labelled and row.get("method") != "score" and row["n"] < self.min_labelled:
            return "insufficient", f"{row['n']} labelled items, fewer than {self.min_labelled}"
        if self.metric.endswith("_rate") and value * per_day < self.min_affected:
            return "insufficient", (
                f"affects {value * per_day:.0f}/day, below the minimum {self.min_affected:.0f}"
            )
        if self.metric in ("psi", "embedding_drift") and row["n"] < self.min_n:
            return "insufficient", f"{row['n']} responses in a window, fewer than {self.min_n}"
        if self.metric in ("cohort_gap", "embedding_drift", "psi") and not row.get("flagged"):
            return "green", str(row.get("note", ""))
        judged, what = self.judged_value(value, low, high)
        shown = _fmt(self.metric, judged)
        side = ">" if self.direction == "above" else "<"
        if self.worse(judged, self.red):
            return "red", f"{what} {shown} {side} {_fmt(self.metric, self.red)}"
        if self.yellow is not None and self.worse(judged, self.yellow):
            return "yellow", f"{what} {shown} {side} {_fmt(self.metric, self.yellow)}"
        return "green", f"{what} {shown} within {_fmt(self.metric, self.yellow or self.red)}"


def _fmt(metric: str, value: float) -> str:
    if metric.endswith(("_rate", "_drop", "_gap")) or metric == "cohort_gap":
        return f"{value:.1%}"
    return f"{value:.3g}"


_KEYS = {
    "name", "metric", "red", "yellow", "direction", "by", "only", "window", "persistence",
    "step", "baseline", "min_exposure", "min_affected", "min_labelled", "min_n", "statistic",
    "feature",
    "head", "min_gap", "allow_score", "owner", "actions",
}  # fmt: skip


def rule_from_dict(spec: dict[str, Any], where: str) -> Rule:
    unknown = sorted(set(spec) - _KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown key(s) {', '.join(unknown)}; keys: {sorted(_KEYS)}")
    for needed in ("name", "metric", "red"):
        if needed not in spec:
            raise UsageError(f"{where}: a rule needs {needed!r}")
    metric = str(spec["metric"])
    if metric not in METRICS:
        raise UsageError(f"{where}: unknown metric {metric!r}; metrics: {', '.join(METRICS)}")
    direction = spec.get("direction", "above")
    if direction not in ("above", "below"):
        raise UsageError(f"{where}: direction is 'above' or 'below' (got {direction!r})")
    statistic = spec.get("statistic", "low")
    if statistic not in ("low", "estimate", "high"):
        raise UsageError(f"{where}: statistic is low, estimate or high (got {statistic!r})")
    if metric == "psi" and not spec.get("feature"):
        raise UsageError(f"{where}: a psi rule needs 'feature' (e.g. prompt_chars, intent)")
    if metric == "cohort_gap" and not (spec.get("by") and spec.get("head")):
        raise UsageError(f"{where}: a cohort_gap rule needs 'by' and 'head'")
    if metric == "cohort_gap" and spec["head"] not in GAP_HEADS:
        raise UsageError(
            f"{where}: unknown cohort_gap head {spec['head']!r}; heads: {', '.join(GAP_HEADS)}"
        )
    name = f"{where} ({spec['name']})"
    red = _share(spec["red"], f"{name} red")
    assert red is not None
    return Rule(
        name=str(spec["name"]),
        metric=metric,
        red=red,
        yellow=_share(spec.get("yellow"), f"{name} yellow"),
        direction=direction,
        by=spec.get("by"),
        only=tuple(str(v) for v in spec.get("only", ()) or ()),
        window=parse_duration(spec.get("window", "7d"), f"{name} window"),
        persistence=parse_duration(spec.get("persistence", "0h"), f"{name} persistence"),
        step=parse_duration(spec.get("step", "6h"), f"{name} step"),
        baseline=parse_duration(spec["baseline"], f"{name} baseline")
        if spec.get("baseline")
        else None,
        min_exposure=float(spec.get("min_exposure", 0)),
        min_affected=float(spec.get("min_affected", 0)),
        min_labelled=int(spec.get("min_labelled", 30)),
        min_n=int(spec.get("min_n", 100)),
        statistic=statistic,
        feature=spec.get("feature"),
        head=spec.get("head"),
        min_gap=float(_share(spec.get("min_gap", 0.05), f"{name} min_gap") or 0.05),
        allow_score=bool(spec.get("allow_score", False)),
        owner=spec.get("owner"),
        actions={**DEFAULT_ACTIONS, **(spec.get("actions") or {})},
    )


def load_rules(path: Path) -> list[Rule]:
    """Rules from a YAML file; every problem is a ``UsageError`` naming the rule."""
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"rules file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"rules file {path} is not valid YAML: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise UsageError(f"rules file {path}: expected a mapping with a 'rules' list")
    rules = [
        rule_from_dict(spec, f"{path.name} rule {i + 1}") for i, spec in enumerate(doc["rules"])
    ]
    names = [r.name for r in rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"rules file {path}: rule names must be unique ({', '.join(dupes)})")
    return rules
