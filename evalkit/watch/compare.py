"""Differences between two rates: comparing model versions, and cohort gaps (fairness).

A difference of two proportions gets Newcombe's hybrid score interval (method 10), built from
the two Wilson intervals (with effective sample sizes for weighted samples), which keeps its
coverage near 95% at the small rates evalkit watches where ``d ± 1.96·se`` does not. The test
is the pooled two-proportion score test on the effective sample sizes. The groups compared
are disjoint, so the two estimates' covariance is taken as zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.watch.estimate import RateEstimate, design_interval, hajek, rate, wilson


@dataclass(frozen=True)
class Difference:
    """``b − a`` with its 95% interval and the p-value of "no difference"."""

    a: RateEstimate
    b: RateEstimate
    diff: float
    low: float
    high: float
    p_value: float

    @property
    def significant(self) -> bool:
        """The interval excludes zero."""
        return self.low > 0 or self.high < 0


def newcombe(a: RateEstimate, b: RateEstimate) -> Difference:
    """Newcombe's interval for ``b − a`` from two independent rate estimates."""
    if a.empty or b.empty:
        nan = float("nan")
        return Difference(a, b, nan, -1.0, 1.0, nan)
    l1, u1 = (float(v) for v in wilson(a.estimate, a.effective_n))
    l2, u2 = (float(v) for v in wilson(b.estimate, b.effective_n))
    d = b.estimate - a.estimate
    low = d - np.sqrt((b.estimate - l2) ** 2 + (u1 - a.estimate) ** 2)
    high = d + np.sqrt((u2 - b.estimate) ** 2 + (a.estimate - l1) ** 2)
    # pooled score test on the effective sample sizes: the test that goes with score intervals
    n1, n2 = a.effective_n, b.effective_n
    pooled = (a.estimate * n1 + b.estimate * n2) / (n1 + n2)
    se = float(np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2)))
    # no observed variance (both rates 0 or 1): a difference is then certain, none is none
    p = float(2 * stats.norm.sf(abs(d) / se)) if se > 0 else float(d == 0)
    return Difference(a, b, d, float(low), float(high), p)


def compare_groups(
    sample: pd.DataFrame, column: str, a: str, b: str, *, label: str = "y"
) -> Difference:
    """Rate of ``label`` where ``column == b`` minus where ``column == a``.

    ``sample`` is a probability sample (``inclusion_probability``, ``stratum``); items without
    a decision are left out.
    """
    decided = sample.loc[sample[label].notna()]
    parts = []
    for value in (a, b):
        part = decided.loc[decided[column].astype(str) == value]
        parts.append(
            rate(
                part[label].to_numpy(float),
                part["inclusion_probability"].to_numpy(float),
                part["stratum"].fillna("").astype(str).to_numpy(),
            )
        )
    return newcombe(parts[0], parts[1])


def _domain(decided: pd.DataFrame, mask: np.ndarray, label: str, srs: bool) -> RateEstimate:
    y = decided[label].to_numpy(float)
    pi = decided["inclusion_probability"].to_numpy(float)
    strata = decided["stratum"].fillna("").astype(str).to_numpy()
    est, var, n = hajek(y, pi, strata, domain=mask.astype(float))
    low, high, n_eff = design_interval(est, var, n, srs)
    return RateEstimate(
        float(est[0]),
        float(low[0]),
        float(high[0]),
        float(np.sqrt(var[0])),
        int(n[0]),
        float(n_eff[0]),
        "wilson" if srs else "wilson-design",
    )


def cohort_gaps(
    sample: pd.DataFrame,
    column: str,
    *,
    label: str = "y",
    min_gap: float = 0.05,
    min_n: int = 30,
) -> pd.DataFrame:
    """Each cohort of ``column`` against the rest of the traffic: the gap ``cohort − rest``.

    A gap is ``flagged`` when its interval excludes zero **and** it is at least ``min_gap`` in
    size: a significant but tiny gap is not a fairness problem worth a page, and a large but
    noisy one is not yet evidence. Cohorts with fewer than ``min_n`` decided items are reported
    with ``flagged`` False and ``reason`` saying why. Works for any 0/1 ``label`` (a human-label
    rate, or refusal and escalation over all traffic with ``inclusion_probability`` 1).
    """
    decided = sample.loc[sample[label].notna()].reset_index(drop=True)
    columns = ["cohort", "rate", "rest", "gap", "low", "high", "p_value", "n", "flagged", "reason"]
    if decided.empty:
        return pd.DataFrame(columns=columns)
    pi = decided["inclusion_probability"].to_numpy(float)
    srs = bool(np.allclose(pi, pi[0])) and decided["stratum"].nunique(dropna=False) <= 1
    values = decided[column].astype(str).to_numpy()
    rows = []
    for cohort in sorted(set(values)):
        inside = values == cohort
        mine = _domain(decided, inside, label, srs)
        rest = _domain(decided, ~inside, label, srs)
        diff = newcombe(rest, mine)
        if mine.n < min_n or rest.n < min_n:
            flagged, reason = False, f"too few labelled items ({mine.n} here, {rest.n} elsewhere)"
        elif not diff.significant:
            flagged, reason = False, "interval includes zero"
        elif abs(diff.diff) < min_gap:
            flagged, reason = False, f"significant but smaller than {min_gap:.1%}"
        else:
            flagged, reason = True, f"gap {diff.diff:+.1%} (interval excludes zero)"
        rows.append(
            [
                cohort,
                mine.estimate,
                rest.estimate,
                diff.diff,
                diff.low,
                diff.high,
                diff.p_value,
                mine.n,
                flagged,
                reason,
            ]
        )
    return pd.DataFrame(rows, columns=columns)
