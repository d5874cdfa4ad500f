"""The KPIs a rule can watch, each computed for every cell of a dimension over one window.

A KPI function takes the window's ``WatchData`` (and the reference window's, for comparisons)
and returns a frame with one row per cell: ``cell`` (the dimension's value, ``all`` without
one), ``value``, ``low`` / ``high`` (the 95% interval where there is one), ``n`` (what the
value rests on: labelled items, responses), ``exposure`` (responses in the cell) and ``note``.

Human-label rates (``hallucination_rate``, ``harm_rate``, ``impolite_rate``) come only from
the probability sample; where a cell has no labelled items but the guard scored its traffic,
the guard's mean calibrated score is given instead with ``method`` ``score`` (a model
estimate, labelled as such, never a substitute that turns a light red on its own: rules use it
only with ``allow_score: true``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from evalkit.watch.compare import cohort_gaps, newcombe
from evalkit.watch.data import SUCCESS, WatchData
from evalkit.watch.drift import bounded, feature_drift
from evalkit.watch.estimate import RateEstimate, rates_by, score_rate, wilson

COLUMNS = ["cell", "value", "low", "high", "n", "exposure", "method", "note"]
RATE_HEADS = {
    "hallucination_rate": "hallucination",
    "harm_rate": "harm",
    "impolite_rate": "impolite",
}
OUTCOME_RATES = {
    "conversion_rate": ("converted",),
    "resolution_rate": ("resolved",),
    "escalation_rate": ("escalated",),
    "success_rate": SUCCESS,
}
#: ``cohort_gap`` heads over all traffic that are outcome rates (the rest: ``refusal``).
OUTCOME_HEADS = {"escalation": ("escalated",), "conversion": ("converted",),
                 "resolution": ("resolved",), "success": SUCCESS}  # fmt: skip
FEATURES = {
    "prompt_chars": "numeric",
    "response_chars": "numeric",
    "latency_ms": "numeric",
    "input_tokens": "numeric",
    "output_tokens": "numeric",
    "cost": "numeric",
    "intent": "categorical",
    "model_id": "categorical",
    "outcome": "categorical",
}


def _cells(frame: pd.DataFrame, by: str | None) -> pd.Series:
    if by is None:
        return pd.Series("all", index=frame.index)
    return frame[by].fillna("∅").astype(str)


def _exposure(data: WatchData, by: str | None) -> pd.Series:
    """Responses per cell; from a sampled window, the sample's counts scaled up to traffic."""
    counts = _cells(data.traffic, by).value_counts()
    return counts if data.fraction >= 1 else (counts / data.fraction).round()


def human_rate(data: WatchData, head: str, by: str | None) -> pd.DataFrame:
    sample = data.sample(head)
    exposure = _exposure(data, by)
    rows = []
    table = pd.DataFrame()
    if not sample.empty:
        sample = sample.assign(_cell=_cells(sample, by))
        table = rates_by(sample, "_cell").set_index("_cell")
    score_col = f"score_{head}"
    for cell, count in exposure.items():
        if cell in table.index and table.loc[cell, "n"] > 0:
            r = table.loc[cell]
            rows.append([cell, r.estimate, r.low, r.high, int(r.n), int(count), r.method, ""])
        elif score_col in data.traffic:
            scores = data.traffic.loc[_cells(data.traffic, by) == cell, score_col]
            est = score_rate(scores.to_numpy(float))
            note = "guard's calibrated score, no human labels" if not est.empty else "no data"
            rows.append([cell, est.estimate, est.low, est.high, est.n, int(count), "score", note])
        else:
            rows.append([cell, np.nan, 0.0, 1.0, 0, int(count), "none", "no labelled items"])
    return pd.DataFrame(rows, columns=COLUMNS)


def traffic_share(data: WatchData, by: str | None, positive: Callable[[pd.DataFrame], pd.Series],
                  known: Callable[[pd.DataFrame], pd.Series] | None = None,
                  note: str = "") -> pd.DataFrame:  # fmt: skip
    """A share over all traffic (a census, with a Wilson interval for the process rate)."""
    frame = data.traffic
    if known is not None:
        frame = frame.loc[known(frame)]
    cells = _cells(frame, by)
    exposure = _exposure(data, by)
    hits = positive(frame).astype(float).groupby(cells).agg(["sum", "count"])
    rows = []
    for cell, count in exposure.items():
        k, n = hits.loc[cell] if cell in hits.index else (0.0, 0)
        p = k / n if n else np.nan
        low, high = wilson(p if n else 0.0, n)
        rows.append([cell, p, float(low), float(high), int(n), int(count), "wilson", note])
    return pd.DataFrame(rows, columns=COLUMNS)


def guard_flag_rate(data: WatchData, by: str | None) -> pd.DataFrame:
    return traffic_share(
        data,
        by,
        lambda f: f["decision"].isin(["review", "block"]),
        known=lambda f: f["decision"].notna(),
        note="responses the guard sent to review or blocked",
    )


def outcome_rate(data: WatchData, by: str | None, outcomes: tuple[str, ...]) -> pd.DataFrame:
    return traffic_share(
        data,
        by,
        lambda f: f["outcome"].isin(outcomes),
        known=_known_outcomes,
        note="among responses whose outcome is known",
    )


def refusal_rate(data: WatchData, by: str | None) -> pd.DataFrame:
    """Share of responses that decline the request (``refused``, see ``evalkit.watch.data``)."""
    if "refused" not in data.traffic:
        # evaluate_rules loads the flags when a rule needs them; without them there is no rate
        data = data.with_traffic(data.traffic.assign(refused=np.nan))
    return traffic_share(
        data,
        by,
        lambda f: f["refused"] > 0,
        known=lambda f: f["refused"].notna(),
        note="responses that decline the request (the gate's refusal markers)",
    )


def _known_outcomes(frame: pd.DataFrame) -> pd.Series:
    return frame["outcome"].notna() & (frame["outcome"] != "unknown")


def quantile(data: WatchData, by: str | None, column: str, q: float) -> pd.DataFrame:
    frame = data.traffic
    cells = _cells(frame, by)
    grouped = pd.to_numeric(frame[column], errors="coerce").groupby(cells)
    values, counts = grouped.quantile(q), grouped.count()
    return pd.DataFrame(
        [
            [c, values.get(c, np.nan), np.nan, np.nan, int(counts.get(c, 0)), int(n), "", ""]
            for c, n in _exposure(data, by).items()
        ],
        columns=COLUMNS,
    )


def mean_of(data: WatchData, by: str | None, column: str) -> pd.DataFrame:
    frame = data.traffic
    grouped = pd.to_numeric(frame[column], errors="coerce").groupby(_cells(frame, by))
    values, counts = grouped.mean(), grouped.count()
    return pd.DataFrame(
        [
            [c, values.get(c, np.nan), np.nan, np.nan, int(counts.get(c, 0)), int(n), "", ""]
            for c, n in _exposure(data, by).items()
        ],
        columns=COLUMNS,
    )


def _binomial(p: float, n: int) -> RateEstimate:
    low, high = wilson(p, n)
    se = float(np.sqrt(p * (1 - p) / n)) if n else float("nan")
    return RateEstimate(float(p), float(low), float(high), se, int(n), float(n), "wilson")


def outcome_drop(
    data: WatchData, reference: WatchData, by: str | None, outcomes: tuple[str, ...]
) -> pd.DataFrame:
    """How much an outcome rate fell against the reference window: ``reference − current``
    (positive = a drop), with Newcombe's interval."""
    now = outcome_rate(data, by, outcomes).set_index("cell")
    before = outcome_rate(reference, by, outcomes).set_index("cell")
    rows = []
    for cell, r in now.iterrows():
        if cell not in before.index or not r.n or not before.loc[cell, "n"]:
            rows.append([cell, np.nan, -1.0, 1.0, int(r.n), int(r.exposure), "", "no baseline"])
            continue
        b = before.loc[cell]
        d = newcombe(_binomial(r.value, r.n), _binomial(b.value, b.n))
        note = f"{b.value:.1%} in the baseline window, {r.value:.1%} now"
        rows.append([cell, d.diff, d.low, d.high, int(r.n), int(r.exposure), "newcombe", note])
    return pd.DataFrame(rows, columns=COLUMNS)


def psi(
    data: WatchData, reference: WatchData, by: str | None, feature: str, *, max_rows: int = 5000
) -> pd.DataFrame:
    """PSI of ``feature`` per cell against the reference window.

    ``flagged`` says whether the shift is also significant (KS / chi-square p below 0.05
    divided by the number of cells, Bonferroni): on small windows PSI is biased upwards (an
    empty bin alone adds ~0.7), so a large PSI the test cannot tell from chance is not drift.
    """
    now, before = data.traffic, reference.traffic
    now_cells, before_cells = _cells(now, by), _cells(before, by)
    exposure = _exposure(data, by)
    alpha = 0.05 / max(len(exposure), 1)
    rows = []
    for cell, count in exposure.items():
        cur, ref = now.loc[now_cells == cell, feature], before.loc[before_cells == cell, feature]
        # a bounded, seeded sample per window: the cost stays flat however much traffic there is
        rng = np.random.default_rng(0)
        cur = bounded(cur.to_frame(), max_rows, rng)[feature]
        ref = bounded(ref.to_frame(), max_rows, rng)[feature]
        if len(ref) == 0 or len(cur) == 0:
            rows.append(
                [cell, np.nan, np.nan, np.nan, len(cur), int(count), "", "no reference", False]
            )
            continue
        r = feature_drift(feature, ref, cur, kind=FEATURES.get(feature))
        note = f"{r.reason}; significant below p={alpha:.2g}"
        n = min(r.n_reference, r.n_current)
        rows.append(
            [cell, r.psi, np.nan, np.nan, n, int(count), r.test, note, bool(r.p_value < alpha)]
        )
    return pd.DataFrame(rows, columns=[*COLUMNS, "flagged"])


def cohort_gap(data: WatchData, by: str, head: str, min_gap: float) -> pd.DataFrame:
    """Gap of a cohort's rate to the rest's; ``value`` is the gap (positive = worse).

    ``head`` is a human-label rate (its probability sample, weighted), ``refusal`` (every
    response with a ``refused`` flag) or an outcome (``escalation``, ``conversion``,
    ``resolution``, ``success``: every response whose outcome is known, as ``outcome_rate``
    counts it); the traffic-wide ones are censuses, each response with weight 1.
    """
    t = data.traffic
    if head in RATE_HEADS.values():
        label_frame = data.sample(head)
    elif head == "refusal":
        refused = t["refused"] if "refused" in t else pd.Series(np.nan, index=t.index)
        label_frame = t.loc[refused.notna()].assign(y=refused.dropna().astype(float))
    elif head in OUTCOME_HEADS:
        label_frame = t.loc[_known_outcomes(t)]
        label_frame = label_frame.assign(y=label_frame["outcome"].isin(OUTCOME_HEADS[head]))
    else:
        raise ValueError(f"unknown cohort_gap head {head!r}")
    if label_frame.empty:
        return pd.DataFrame(columns=[*COLUMNS, "flagged"])
    if head not in RATE_HEADS.values():
        label_frame = label_frame.assign(
            y=label_frame["y"].astype(float), inclusion_probability=1.0, stratum="all"
        )
    # a missing cohort is the cell "∅", as exposure counts it
    label_frame = label_frame.assign(**{by: _cells(label_frame, by)})
    gaps = cohort_gaps(label_frame, by, min_gap=min_gap)
    exposure = _exposure(data, by)
    return pd.DataFrame(
        {
            "cell": gaps["cohort"],
            "value": gaps["gap"],
            "low": gaps["low"],
            "high": gaps["high"],
            "n": gaps["n"],
            "exposure": gaps["cohort"].map(exposure).fillna(0).astype(int),
            "method": "newcombe",
            "note": gaps["reason"],
            "flagged": gaps["flagged"],
        }
    )
