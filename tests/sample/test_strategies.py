"""Sampling designs: allocations by hand, errors, and unbiasedness by simulation."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.errors import UsageError
from evalkit.sample import strategies


def test_allocations_match_hand_computed_values():
    sizes = {"a": 600, "b": 300, "c": 100}
    assert strategies.allocate(sizes, 100) == {"a": 60, "b": 30, "c": 10}
    assert strategies.allocate(sizes, 99, allocation="equal") == {"a": 33, "b": 33, "c": 33}
    # Neyman: n·N_h·S_h / Σ N·S = 100·(600·0.1, 300·0.3, 100·0.5)/200 = 30, 45, 25
    sd = {"a": 0.1, "b": 0.3, "c": 0.5}
    assert strategies.allocate(sizes, 100, allocation="neyman", sd=sd) == {
        "a": 30,
        "b": 45,
        "c": 25,
    }
    # A stratum smaller than its share is taken whole; the rest goes to the others.
    assert strategies.allocate({"a": 1000, "b": 5}, 40, allocation="equal") == {"a": 35, "b": 5}
    assert strategies.allocate(sizes, 100, quotas={"c": 50}) == {"a": 33, "b": 17, "c": 50}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 2000}, "above the population of 1000"),
        ({"n": 10, "quotas": {"c": 101}}, "quota 101 for stratum 'c' is above its population"),
        ({"n": 10, "quotas": {"z": 1}}, "quota for unknown stratum 'z'"),
        ({"n": 10, "quotas": {"a": 11}}, "quotas add up to 11"),
        ({"n": 10, "allocation": "neyman"}, "needs each stratum's spread"),
        ({"n": 10, "allocation": "optimal"}, "allocation 'optimal'"),
        ({"n": 0}, "at least 1"),
    ],
)
def test_bad_allocations_are_refused(kwargs, message):
    with pytest.raises(UsageError, match=message):
        strategies.allocate({"a": 600, "b": 300, "c": 100}, **kwargs)


def test_empty_population_is_a_clear_error():
    with pytest.raises(UsageError, match="empty population"):
        strategies.uniform([], 5, np.random.default_rng(0))


def test_uniform_and_stratified_probabilities():
    rng = np.random.default_rng(1)
    ids = [f"r{i}" for i in range(50)]
    picked = strategies.uniform(ids, 5, rng)
    assert len({s.response_id for s in picked}) == 5 and {
        s.inclusion_probability for s in picked
    } == {0.1}
    groups = {"x": ids[:40], "y": ids[40:]}
    drawn = strategies.stratified(groups, {"x": 4, "y": 5}, rng)
    assert sorted({(s.stratum, s.inclusion_probability) for s in drawn}) == [("x", 0.1), ("y", 0.5)]
    assert strategies.stratum_key({"model_id": "m", "intent": None}, ["model_id", "intent"]) == (
        "model_id=m;intent=(none)"
    )


def test_targeted_designs_rank_by_score():
    scores = {"a": 0.9, "b": 0.2, "c": 0.58, "d": 0.45}
    assert [s.response_id for s in strategies.risk_first(scores, 2)] == ["a", "c"]
    assert [s.response_id for s in strategies.uncertainty(scores, 2, 0.5)] == ["d", "c"]


def test_queue_uncertainty_ranks_as_the_benchmarked_order():
    """``benchmarks/active_learning.py`` measures ``learn.uncertainty_order``; the review queue's
    design must pick the same responses, or the benchmark's figures describe another product."""
    from evalkit.learn import uncertainty_order

    rng = np.random.default_rng(3)
    values = rng.random(200)
    ids = [f"r{i:03d}" for i in range(200)]
    scores = dict(zip(ids, values.tolist(), strict=True))
    for threshold in (0.5, 0.3):
        queued = [s.response_id for s in strategies.uncertainty(scores, 25, threshold)]
        benchmarked = [ids[i] for i in uncertainty_order(values, threshold=threshold)[:25]]
        assert queued == benchmarked


def test_hajek_estimate_from_a_stratified_sample_is_unbiased():
    """Disproportionate allocation (equal) over strata with very different rates: the naive
    sample mean is biased, the Hájek estimate Σ y/π / Σ 1/π is not (within tolerance)."""
    rng = np.random.default_rng(7)
    sizes = {"big": 8000, "mid": 1500, "small": 500}
    rates = {"big": 0.02, "mid": 0.2, "small": 0.6}
    population = {s: rng.random(size) < rates[s] for s, size in sizes.items()}
    truth = sum(int(v.sum()) for v in population.values()) / sum(sizes.values())
    ids = {s: [f"{s}-{i}" for i in range(size)] for s, size in sizes.items()}
    value = {f"{s}-{i}": bool(population[s][i]) for s in sizes for i in range(sizes[s])}
    counts = strategies.allocate(sizes, 300, allocation="equal")
    hajek, naive = [], []
    for _ in range(400):
        drawn = strategies.stratified(ids, counts, rng)
        w = np.array([1 / s.inclusion_probability for s in drawn])
        y = np.array([value[s.response_id] for s in drawn], dtype=float)
        hajek.append(float((w * y).sum() / w.sum()))
        naive.append(float(y.mean()))
    assert abs(np.mean(hajek) - truth) < 0.004
    assert abs(np.mean(naive) - truth) > 0.1  # the test can fail: without weights it does
