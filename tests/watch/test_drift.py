"""Feature and embedding drift: known shifts give hand-computed values, no shift gives none."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from evalkit.watch.drift import drift_table, feature_drift, psi_categorical, psi_numeric
from evalkit.watch.embed_drift import embedding_drift


def test_psi_of_a_distribution_with_itself_is_zero():
    rng = np.random.default_rng(0)
    x = rng.lognormal(6, 0.5, 5000)
    assert psi_numeric(x, x) == pytest.approx(0.0, abs=1e-12)
    cats = pd.Series(rng.choice(["a", "b", "c"], 3000))
    assert psi_categorical(cats, cats) == pytest.approx(0.0, abs=1e-12)
    # two samples of the same distribution: small, far below the 0.2 trigger
    assert psi_numeric(x, rng.lognormal(6, 0.5, 5000)) < 0.02


def test_psi_of_a_known_categorical_shift_matches_the_hand_computed_value():
    ref = pd.Series(["a"] * 250 + ["b"] * 250 + ["c"] * 250 + ["d"] * 250)
    cur = pd.Series(["a"] * 400 + ["b"] * 300 + ["c"] * 200 + ["d"] * 100)
    by_hand = (
        0.15 * math.log(0.4 / 0.25)
        + 0.05 * math.log(0.3 / 0.25)
        - 0.05 * math.log(0.2 / 0.25)
        - 0.15 * math.log(0.1 / 0.25)
    )
    assert by_hand == pytest.approx(0.2282, abs=1e-4)
    assert psi_categorical(ref, cur) == pytest.approx(by_hand, abs=1e-9)
    result = feature_drift("intent", ref, cur)
    assert result.kind == "categorical" and result.test == "chi2"
    assert result.state == "red" and result.p_value < 1e-6


def test_psi_of_a_known_numeric_shift_matches_the_hand_computed_value():
    ref = np.arange(1000, dtype=float)  # deciles at 99.9, 199.8, ...: 100 values a bin
    cur = np.arange(500, 1000, dtype=float)  # only the top five bins, 20% each
    eps = 1e-4
    by_hand = 5 * (0.2 - 0.1) * math.log(0.2 / 0.1) + 5 * (eps - 0.1) * math.log(eps / 0.1)
    assert psi_numeric(ref, cur) == pytest.approx(by_hand, rel=1e-9)
    result = feature_drift("latency_ms", pd.Series(ref), pd.Series(cur))
    assert result.test == "ks" and result.statistic == pytest.approx(0.5)


def test_new_category_counts_as_drift_and_windows_are_bounded():
    rng = np.random.default_rng(1)
    ref = pd.DataFrame({"intent": rng.choice(["a", "b"], 20_000), "n": rng.normal(size=20_000)})
    cur = ref.copy()
    cur.loc[cur.sample(frac=0.3, random_state=1).index, "intent"] = "new-topic"
    results = {
        r.feature: r
        for r in drift_table(
            ref, cur, {"intent": "categorical", "n": "numeric"}, rng=rng, max_rows=2000
        )
    }
    assert results["intent"].n_current == 2000
    assert results["intent"].psi > 0.2
    assert results["n"].psi < 0.1 and results["n"].state == "green"


def _topics(rng, n, centres, weights):
    which = rng.choice(len(centres), size=n, p=weights)
    return centres[which] + rng.normal(scale=0.6, size=(n, centres.shape[1]))


def test_embedding_drift_fires_on_an_injected_topic_and_stays_quiet_without_one():
    rng = np.random.default_rng(2)
    centres = rng.normal(scale=1.2, size=(4, 32))
    ref = _topics(rng, 200, centres[:3], [0.4, 0.3, 0.3])
    same = _topics(rng, 200, centres[:3], [0.4, 0.3, 0.3])
    shifted = _topics(rng, 200, centres, [0.3, 0.25, 0.25, 0.2])  # a new topic, 20% of texts
    quiet = embedding_drift(ref, same, rng=np.random.default_rng(3))
    loud = embedding_drift(ref, shifted, rng=np.random.default_rng(3))
    assert not quiet.drifted, quiet.reason
    assert loud.drifted, loud.reason
    assert loud.auc > quiet.auc and loud.distance > loud.distance_threshold


@pytest.mark.slow
def test_embedding_drift_false_alarm_rate_is_near_alpha():
    """Over 100 pairs of windows with no shift, the detector fires in few of them."""
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(3, 16))
    fired = sum(
        embedding_drift(
            _topics(rng, 60, centres, [0.5, 0.3, 0.2]),
            _topics(rng, 60, centres, [0.5, 0.3, 0.2]),
            rng=rng,
        ).drifted
        for _ in range(100)
    )
    assert fired <= 10  # alpha = 5%: 5 expected, 10 is beyond 2 standard deviations


def test_embedding_drift_needs_enough_texts():
    result = embedding_drift(np.zeros((5, 4)), np.ones((5, 4)), rng=np.random.default_rng(0))
    assert not result.drifted and "too few" in result.reason
