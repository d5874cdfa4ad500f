"""Rates from a labelled sample, weighted by how likely each item was to be sampled.

Human labels exist only for the responses someone reviewed, and the review queue does not pick
them uniformly: strata are sampled at different fractions, and targeted streams (risk-first,
flagged, uncertainty) pick exactly the responses most likely to be bad. A plain share of "yes"
among the reviewed would then estimate the reviewers' diet, not the traffic. So:

- only **probability streams** (``PROBABILITY_STRATEGIES``) enter a rate; a targeted item never
  does, whatever its label (``probability_sample``);
- each item counts ``1 / inclusion_probability`` times (the Hájek ratio estimator,
  ``Σ w·y / Σ w``, which is the stratified estimator when the weights are ``N_h / n_h``);
- its variance is the Taylor-linearised one, computed within the sampling strata with a
  ``1 − π`` finite-population factor (exact for stratified simple random samples up to
  ``n_h/(n_h−1)``, the usual approximation for unequal-probability designs);
- the 95% interval is Wilson's: with ``n`` for a simple random sample (all weights equal, one
  stratum), and with the design's effective sample size ``p(1−p)/V`` otherwise, which keeps the
  interval inside [0, 1] and honest at small rates where a ``± 1.96·se`` interval undercovers.

Everything here is a pure function of arrays; ``tests/watch/test_estimate.py`` checks coverage
and bias by simulation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

#: Streams whose items were drawn with a known probability: the only ones a rate may use (the
#: same as ``evalkit.sample.PROBABILITY_STRATEGIES``; a test keeps the two equal).
PROBABILITY_STRATEGIES = frozenset({"random", "stratified", "policy"})
Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class RateEstimate:
    """A rate with its 95% interval and what it rests on.

    ``n`` labelled items (with a decision) entered it; ``effective_n`` is the simple random
    sample size that would give the same precision; ``method`` says how the interval was made
    (``wilson`` for a simple random sample, ``wilson-design`` for a weighted one, ``score`` for
    a calibrated-guard-score estimate, which is not a human-labelled rate).
    """

    estimate: float
    low: float
    high: float
    se: float
    n: int
    effective_n: float
    method: str

    @property
    def empty(self) -> bool:
        return self.n == 0


EMPTY = RateEstimate(float("nan"), 0.0, 1.0, float("nan"), 0, 0.0, "none")


def wilson(p: float | np.ndarray, n: float | np.ndarray, z: float = Z95) -> tuple:
    """Wilson score interval of a proportion ``p`` from ``n`` trials (arrays broadcast).

    ``n`` may be an effective sample size (non-integer). Returns ``(low, high)``; where
    ``n == 0`` the interval is the whole of [0, 1].
    """
    p = np.asarray(p, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        low = np.where(n > 0, np.clip(centre - half, 0, 1), 0.0)
        high = np.where(n > 0, np.clip(centre + half, 0, 1), 1.0)
    return low, high


def probability_sample(items: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``items`` drawn by a probability stream, with a usable probability.

    ``items`` has at least ``strategy`` and ``inclusion_probability``. Targeted streams and
    rows without a probability in (0, 1] are dropped: they say nothing about the traffic rate.
    """
    pi = items["inclusion_probability"]
    keep = items["strategy"].isin(PROBABILITY_STRATEGIES) & (pi > 0) & (pi <= 1)
    return items.loc[keep.fillna(False)]


def _stratified_variance(
    z: np.ndarray, strata: np.ndarray, fpc: np.ndarray, total_weight: np.ndarray
) -> np.ndarray:
    """Linearised variance of a ratio from its residual scores ``z`` (runs × items).

    Within each stratum ``h``: ``n_h/(n_h−1) · Σ (1−π_i)(z_i − z̄_h)²``; summed over strata and
    divided by the squared estimated population size. A stratum with one item contributes
    nothing (its variance is not estimable), as in standard survey software.
    """
    var = np.zeros(z.shape[0])
    for h in np.unique(strata):
        cols = strata == h
        n_h = int(cols.sum())
        if n_h < 2:
            continue
        zh = z[:, cols]
        dev = zh - zh.mean(axis=1, keepdims=True)
        var += n_h / (n_h - 1) * (fpc[cols] * dev**2).sum(axis=1)
    return var / total_weight**2


def hajek(
    y: np.ndarray,
    pi: np.ndarray,
    strata: np.ndarray | None = None,
    *,
    domain: np.ndarray | None = None,
    fpc: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hájek estimates and linearised variances, vectorised over simulation runs.

    ``y`` (runs × items or items) holds 0/1 outcomes, ``pi`` the inclusion probabilities of the
    same items (same shape or one row), ``strata`` a stratum label per item (one row),
    ``domain`` an optional 0/1 mask of the items in the sub-population being estimated: domain
    estimation keeps every item in the variance (with a zero score outside the domain), so the
    random size of the domain is accounted for. Returns ``(estimate, variance, n_in_domain)``.
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    w = 1.0 / np.atleast_2d(np.asarray(pi, dtype=float))
    w = np.broadcast_to(w, y.shape)
    d = np.ones(y.shape[1]) if domain is None else np.asarray(domain, dtype=float)
    strata_arr = np.zeros(y.shape[1]) if strata is None else np.asarray(strata)
    wd = w * d
    total = wd.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        est = (wd * y).sum(axis=1) / total
    z = wd * (y - est[:, None])
    f = 1 - np.asarray(pi, dtype=float) if fpc else np.ones(y.shape[1])
    f = np.clip(np.atleast_2d(f)[0], 0, 1)
    var = _stratified_variance(np.nan_to_num(z), strata_arr, f, total)
    return est, var, (d > 0).sum() * np.ones(y.shape[0])


def design_interval(
    est: np.ndarray, var: np.ndarray, n: np.ndarray, srs: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Wilson interval with ``n`` (simple random sample) or the effective sample size.

    The effective size ``p(1−p)/V`` is undefined at ``p ∈ {0, 1}`` (no variance is observed);
    there the actual ``n`` is used, which is what a simple random sample would give.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        n_eff = np.where((var > 0) & (est > 0) & (est < 1), est * (1 - est) / var, n)
    n_eff = np.asarray(n if srs else n_eff, dtype=float)
    low, high = wilson(est, n_eff)
    return low, high, n_eff


def rate(
    y: np.ndarray, pi: np.ndarray, strata: np.ndarray | None = None, *, fpc: bool = True
) -> RateEstimate:
    """One rate from labelled items (``y`` 0/1, ``pi`` their inclusion probabilities)."""
    y = np.asarray(y, dtype=float)
    if y.size == 0:
        return EMPTY
    pi = np.asarray(pi, dtype=float)
    srs = bool(np.allclose(pi, pi[0])) and (strata is None or len(set(strata)) == 1)
    est, var, n = hajek(y, pi, strata, fpc=fpc)
    low, high, n_eff = design_interval(est, var, n, srs)
    return RateEstimate(
        float(est[0]),
        float(low[0]),
        float(high[0]),
        float(np.sqrt(var[0])),
        int(y.size),
        float(n_eff[0]),
        "wilson" if srs else "wilson-design",
    )


def bootstrap_rate(
    y: np.ndarray,
    pi: np.ndarray,
    strata: np.ndarray | None,
    *,
    rng: np.random.Generator,
    replicates: int = 1000,
) -> RateEstimate:
    """The Hájek rate with a stratified-bootstrap percentile interval.

    Items are resampled with replacement within each stratum (so each stratum keeps its size),
    which is the design-consistent bootstrap for stratified samples; slower than the linearised
    interval and used to cross-check it.
    """
    y = np.asarray(y, dtype=float)
    if y.size == 0:
        return EMPTY
    w = 1.0 / np.asarray(pi, dtype=float)
    strata_arr = np.zeros(y.size) if strata is None else np.asarray(strata)
    idx = np.empty((replicates, y.size), dtype=int)
    for h in np.unique(strata_arr):
        members = np.flatnonzero(strata_arr == h)
        idx[:, members] = rng.choice(members, size=(replicates, members.size))
    boot = (w[idx] * y[idx]).sum(axis=1) / w[idx].sum(axis=1)
    est = float((w * y).sum() / w.sum())
    low, high = np.quantile(boot, [0.025, 0.975])
    se = float(boot.std(ddof=1))
    n_eff = est * (1 - est) / se**2 if se > 0 else float(y.size)
    return RateEstimate(est, float(low), float(high), se, int(y.size), n_eff, "bootstrap")


def score_rate(scores: np.ndarray) -> RateEstimate:
    """Mean calibrated guard score over traffic: what the classifier expects the rate to be.

    Not a human-labelled rate: its interval covers only the sampling of responses, not the
    classifier's calibration error, so callers label it as a model estimate (``method='score'``).
    """
    s = np.asarray(scores, dtype=float)
    s = s[np.isfinite(s)]
    if s.size == 0:
        return EMPTY
    est = float(s.mean())
    se = float(s.std(ddof=1) / np.sqrt(s.size)) if s.size > 1 else 0.0
    low, high = max(0.0, est - Z95 * se), min(1.0, est + Z95 * se)
    return RateEstimate(est, low, high, se, int(s.size), float(s.size), "score")


def rates_by(
    sample: pd.DataFrame, by: str | list[str] | None, *, label: str = "y", fpc: bool = True
) -> pd.DataFrame:
    """One rate per group of ``sample`` (a probability sample with ``label`` 0/1/NaN,
    ``inclusion_probability`` and ``stratum``), as domain estimates over the whole sample.

    Items without a decision (NaN: unsure, unresolved) are left out. Returns one row per group
    with the fields of ``RateEstimate`` (``by`` None: a single row, group ``all``).
    """
    decided = sample.loc[sample[label].notna()]
    keys = [by] if isinstance(by, str) else list(by or [])
    columns = [*keys, "estimate", "low", "high", "se", "n", "effective_n", "method"]
    if decided.empty:
        return pd.DataFrame(columns=columns)
    y = decided[label].to_numpy(dtype=float)
    pi = decided["inclusion_probability"].to_numpy(dtype=float)
    strata = decided["stratum"].fillna("").astype(str).to_numpy()
    srs = bool(np.allclose(pi, pi[0])) and len(set(strata)) == 1
    groups = decided.groupby(keys, dropna=False, sort=True).indices if keys else {"all": None}
    rows = []
    for key, positions in groups.items():
        mask = np.ones(y.size) if positions is None else np.isin(np.arange(y.size), positions)
        est, var, n = hajek(y, pi, strata, domain=mask, fpc=fpc)
        low, high, n_eff = design_interval(est, var, n, srs)
        values = key if isinstance(key, tuple) else (key,)
        rows.append(
            [
                *(values if keys else []),
                float(est[0]),
                float(low[0]),
                float(high[0]),
                float(np.sqrt(var[0])),
                int(n[0]),
                float(n_eff[0]),
                "wilson" if srs else "wilson-design",
            ]
        )
    return pd.DataFrame(rows, columns=columns)
