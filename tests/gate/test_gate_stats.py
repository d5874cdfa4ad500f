"""The gate's statistics against scipy/scikit-learn and published values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.gate.stats import Confusion, kappa_interval, mcnemar_exact, wilson_interval


@pytest.mark.parametrize(
    ("b", "c", "p"),
    [
        (0, 0, 1.0),
        (1, 0, 1.0),
        (5, 0, 0.0625),  # 2 / 2**5
        (6, 0, 0.03125),
        (8, 1, 0.0390625),  # 2 * (1 + 8) / 2**9
        (1, 8, 0.0390625),  # symmetric
        (10, 10, 1.0),
        (3, 0, 0.25),
        (4, 1, 0.375),  # 2 * (1 + 5) / 2**5
    ],
)
def test_mcnemar_known_values(b, c, p):
    assert mcnemar_exact(b, c) == pytest.approx(p, abs=5e-5)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 300), st.integers(0, 300))
def test_mcnemar_matches_scipy_binomtest(b, c):
    from scipy.stats import binomtest

    expected = 1.0 if b + c == 0 else binomtest(b, b + c, 0.5).pvalue
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9, abs=1e-300)


def test_mcnemar_large_counts_do_not_underflow():
    assert 0 < mcnemar_exact(2000, 1500) < 1e-15
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 2)


def test_wilson_known_values():
    low, high = wilson_interval(0, 10)
    assert (low, round(high, 4)) == (0.0, 0.2775)
    low, high = wilson_interval(81, 263)  # worked by hand from the score formula
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=2, max_size=200))
def test_kappa_matches_scikit_learn(pairs):
    from sklearn.metrics import cohen_kappa_score

    judge = [p for p, _ in pairs]
    human = [a for _, a in pairs]
    c = Confusion(
        tp=sum(p and a for p, a in pairs),
        fp=sum(p and not a for p, a in pairs),
        fn=sum(a and not p for p, a in pairs),
        tn=sum(not p and not a for p, a in pairs),
    )
    kappa = c.kappa()
    if kappa is None:  # both raters put everything in one and the same class
        assert len(set(judge) | set(human)) == 1
        return
    assert kappa == pytest.approx(cohen_kappa_score(judge, human), abs=1e-9)
    interval = kappa_interval(c)
    assert interval is not None and interval[0] <= kappa + 1e-9 and kappa - 1e-9 <= interval[1]


def test_kappa_interval_known_value_and_width():
    # Worked by hand from the Fleiss–Cohen–Everitt variance: p = [[.4, .1], [.1, .4]],
    # pe = .5, kappa = .6; A = .288, B = .032, C = .16; var = .16 / (100 · .25) = .0064,
    # se = .08, so kappa ± 1.96 · se = (.443, .757). The interval narrows as n grows.
    c = Confusion(tp=40, fp=10, fn=10, tn=40)
    assert c.kappa() == pytest.approx(0.6)
    low, high = kappa_interval(c)
    assert (round(low, 3), round(high, 3)) == (0.443, 0.757)
    big = Confusion(tp=400, fp=100, fn=100, tn=400)
    b_low, b_high = kappa_interval(big)
    assert b_high - b_low < (high - low) / 3
    assert (c.precision(), c.recall(), c.accuracy()) == (0.8, 0.8, 0.8)
