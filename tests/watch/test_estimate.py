"""The rates' statistics, checked by simulation against a population whose truth is known.

Coverage of a 95% interval over 500 independent samples falls in 93–97% for a correct method
(±2 binomial standard deviations); bias is checked against the simulation's own standard error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.watch.estimate import (
    bootstrap_rate,
    hajek,
    probability_sample,
    rate,
    rates_by,
    score_rate,
    wilson,
)

RUNS = 500


def _population(rng: np.random.Generator):
    """20,000 responses in three strata whose rates differ tenfold, and a 'model' column that
    cuts across the strata (so a per-model rate is a domain estimate)."""
    sizes, rates = (12_000, 6_000, 2_000), (0.02, 0.08, 0.25)
    strata = np.repeat(np.arange(3), sizes)
    y = (rng.random(strata.size) < np.repeat(rates, sizes)).astype(float)
    model = (rng.random(strata.size) < 0.3).astype(int)
    y[model == 1] = np.maximum(y[model == 1], rng.random(int(model.sum())) < 0.05)
    return strata, y, model, sizes


def _stratified_samples(rng, strata, y, model, sizes, takes):
    """RUNS stratified simple random samples without replacement: (y, model, pi, strata)."""
    ys, ms, pis, hs = [], [], [], []
    for h, (size, take) in enumerate(zip(sizes, takes, strict=True)):
        members = np.flatnonzero(strata == h)
        picks = np.argsort(rng.random((RUNS, size)), axis=1)[:, :take]
        ys.append(y[members][picks])
        ms.append(model[members][picks])
        pis.append(np.full(take, take / size))
        hs.append(np.full(take, h))
    return np.hstack(ys), np.hstack(ms), np.concatenate(pis), np.concatenate(hs)


def test_stratified_sample_intervals_cover_the_truth_and_the_estimator_is_unbiased():
    rng = np.random.default_rng(20261202)
    strata, y, model, sizes = _population(rng)
    truth = y.mean()
    ys, _, pi, hs = _stratified_samples(rng, strata, y, model, sizes, (150, 150, 100))
    est, var, n = hajek(ys, pi, hs)
    srs = False
    from evalkit.watch.estimate import design_interval

    low, high, _ = design_interval(est, var, n, srs)
    coverage = np.mean((low <= truth) & (truth <= high))
    assert 0.93 <= coverage <= 0.97, coverage
    # Unbiased: the mean of 500 estimates is within 3 simulation standard errors of the truth.
    assert abs(est.mean() - truth) < 3 * est.std(ddof=1) / np.sqrt(RUNS)
    # The unweighted share is the biased answer the weights exist to avoid.
    assert ys.mean() > truth * 1.5
    # The linearised variance matches the variance across samples within 15%.
    assert np.sqrt(var).mean() == pytest.approx(est.std(ddof=1), rel=0.15)


def test_domain_rates_cut_across_strata_and_still_cover():
    rng = np.random.default_rng(7)
    strata, y, model, sizes = _population(rng)
    truth = y[model == 1].mean()
    ys, ms, pi, hs = _stratified_samples(rng, strata, y, model, sizes, (200, 200, 150))
    from evalkit.watch.estimate import design_interval

    ests, lows, highs = [], [], []
    for r in range(RUNS):
        est, var, n = hajek(ys[r], pi, hs, domain=ms[r])
        low, high, _ = design_interval(est, var, n, False)
        ests.append(est[0])
        lows.append(low[0])
        highs.append(high[0])
    coverage = np.mean((np.array(lows) <= truth) & (truth <= np.array(highs)))
    assert 0.93 <= coverage <= 0.97, coverage
    assert abs(np.mean(ests) - truth) < 3 * np.std(ests, ddof=1) / np.sqrt(RUNS)


def test_unequal_probability_poisson_sample_covers_the_truth():
    """Probabilities proportional to a risk score that is correlated with the label: a design
    where the unweighted share is far off."""
    rng = np.random.default_rng(11)
    n_pop = 8_000
    risk = rng.beta(1, 6, n_pop)
    y = (rng.random(n_pop) < risk).astype(float)
    truth = y.mean()
    pi = np.clip(400 * (0.2 + risk) / (0.2 + risk).sum(), 0.001, 1.0)
    covered, ests, shares = 0, [], []
    for _ in range(RUNS):
        take = rng.random(n_pop) < pi
        est = rate(y[take], pi[take])
        covered += est.low <= truth <= est.high
        ests.append(est.estimate)
        shares.append(y[take].mean())
    assert 0.93 <= covered / RUNS <= 0.97, covered / RUNS
    assert abs(np.mean(ests) - truth) < 3 * np.std(ests, ddof=1) / np.sqrt(RUNS)
    assert np.mean(shares) > truth * 1.3


def test_simple_random_sample_uses_plain_wilson_and_covers():
    rng = np.random.default_rng(3)
    truth, n = 0.04, 300
    ys = (rng.random((RUNS, n)) < truth).astype(float)
    lows, highs = wilson(ys.mean(axis=1), n)
    coverage = np.mean((lows <= truth) & (truth <= highs))
    assert 0.93 <= coverage <= 0.97, coverage
    one = rate(ys[0], np.full(n, 0.01))
    assert one.method == "wilson"
    assert (one.low, one.high) == pytest.approx(tuple(float(v) for v in wilson(ys[0].mean(), n)))


def test_wilson_against_a_hand_computed_value():
    # 10 successes in 100: the textbook Wilson interval is (0.0552, 0.1744).
    low, high = wilson(0.1, 100)
    assert (float(low), float(high)) == pytest.approx((0.05523, 0.17437), abs=1e-4)
    low, high = wilson(0.0, 0)
    assert (float(low), float(high)) == (0.0, 1.0)


def test_bootstrap_agrees_with_the_linearised_interval():
    rng = np.random.default_rng(5)
    strata, y, model, sizes = _population(rng)
    ys, _, pi, hs = _stratified_samples(rng, strata, y, model, sizes, (150, 150, 100))
    lin = rate(ys[0], pi, hs)
    boot = bootstrap_rate(ys[0], pi, hs, rng=np.random.default_rng(1), replicates=2000)
    assert boot.estimate == pytest.approx(lin.estimate)
    assert boot.se == pytest.approx(lin.se, rel=0.15)
    assert lin.method == "wilson-design"


def test_targeted_streams_never_enter_a_rate():
    items = pd.DataFrame(
        {
            "strategy": ["random", "risk", "flagged", "stratified", "uncertainty", "random"],
            "inclusion_probability": [0.1, 0.9, 1.0, 0.2, 0.5, 0.0],
        }
    )
    assert probability_sample(items).index.tolist() == [0, 3]


def test_probability_streams_are_the_sampling_stages():
    from evalkit import sample
    from evalkit.watch.estimate import PROBABILITY_STRATEGIES

    assert set(sample.PROBABILITY_STRATEGIES) == PROBABILITY_STRATEGIES


def test_rates_by_group_skips_undecided_items_and_matches_the_single_rate():
    sample = pd.DataFrame(
        {
            "model": ["a"] * 50 + ["b"] * 50,
            "y": [1.0] * 5 + [0.0] * 44 + [np.nan] + [1.0] * 20 + [0.0] * 30,
            "inclusion_probability": 0.05,
            "stratum": "all",
        }
    )
    table = rates_by(sample, "model").set_index("model")
    assert table.loc["a", "n"] == 49
    assert table.loc["a", "estimate"] == pytest.approx(5 / 49)
    assert table.loc["b", "estimate"] == pytest.approx(0.4)
    assert table.loc["b", "method"] == "wilson"
    overall = rates_by(sample, None)
    assert overall["estimate"].iloc[0] == pytest.approx(25 / 99)


def test_score_rate_is_labelled_as_a_model_estimate():
    est = score_rate(np.array([0.1, 0.2, np.nan, 0.3]))
    assert est.method == "score"
    assert est.estimate == pytest.approx(0.2)
    assert est.n == 3
    assert score_rate(np.array([])).empty
