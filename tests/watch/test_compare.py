"""Differences of rates: Newcombe's interval covers the true difference; cohort gaps flag only
gaps that are both real and large."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.watch.compare import cohort_gaps, compare_groups, newcombe
from evalkit.watch.estimate import rate


def test_newcombe_interval_covers_the_true_difference():
    rng = np.random.default_rng(8)
    pa, pb, n = 0.03, 0.07, 400
    covered = 0
    for _ in range(500):
        a = rate((rng.random(n) < pa).astype(float), np.full(n, 0.1))
        b = rate((rng.random(n) < pb).astype(float), np.full(n, 0.1))
        d = newcombe(a, b)
        covered += d.low <= pb - pa <= d.high
    assert 0.93 <= covered / 500 <= 0.97


def test_newcombe_against_the_published_example():
    # Newcombe (1998), example (a): 56/70 vs 48/80, difference 0.2, interval (0.0524, 0.3339).
    a = rate(np.r_[np.ones(48), np.zeros(32)], np.full(80, 0.5))
    b = rate(np.r_[np.ones(56), np.zeros(14)], np.full(70, 0.5))
    d = newcombe(a, b)
    assert d.diff == pytest.approx(0.2)
    assert (d.low, d.high) == pytest.approx((0.0524, 0.3339), abs=1e-4)
    assert d.significant and d.p_value < 0.01


def _sample(rng, rates, n=600):
    cohort = rng.choice(list(rates), size=n)
    y = (rng.random(n) < np.array([rates[c] for c in cohort])).astype(float)
    return pd.DataFrame({"segment": cohort, "y": y, "inclusion_probability": 0.2, "stratum": "x"})


def test_compare_groups_finds_a_regressed_version_and_not_an_equal_one():
    rng = np.random.default_rng(9)
    sample = _sample(rng, {"v1": 0.04, "v2": 0.14, "v3": 0.04}, n=1500)
    worse = compare_groups(sample, "segment", "v1", "v2")
    same = compare_groups(sample, "segment", "v1", "v3")
    assert worse.significant and worse.diff > 0.05
    assert not same.significant


def test_cohort_gap_flags_a_real_large_gap_only():
    rng = np.random.default_rng(10)
    sample = _sample(rng, {"free": 0.20, "pro": 0.05, "enterprise": 0.05}, n=1200)
    gaps = cohort_gaps(sample, "segment", min_gap=0.05).set_index("cohort")
    assert bool(gaps.loc["free", "flagged"]) and gaps.loc["free", "gap"] > 0.1
    assert not gaps.loc["enterprise", "flagged"] or gaps.loc["enterprise", "gap"] < 0
    # the same gap is not flagged when a larger size is required
    big = cohort_gaps(sample, "segment", min_gap=0.5).set_index("cohort")
    assert not big["flagged"].any()
    assert "smaller than" in big.loc["free", "reason"]


def test_cohort_gap_needs_enough_items():
    rng = np.random.default_rng(11)
    sample = _sample(rng, {"a": 0.5, "b": 0.0}, n=30)
    gaps = cohort_gaps(sample, "segment", min_n=30)
    assert not gaps["flagged"].any()
    assert gaps["reason"].str.contains("too few").all()
