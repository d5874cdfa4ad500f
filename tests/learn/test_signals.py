"""Cheap signals: the grounding signals see what a response states that its context does not,
and an artifact fitted before a signal existed keeps scoring on the columns it knows."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.learn.data import Example
from evalkit.learn.signals import LEGACY_SIGNAL_NAMES, SIGNAL_NAMES, CheapSignals, signals_of

POLICY = "Refunds are paid within 30 days of the return reaching our Austin warehouse."


def _signal(name: str, example: Example) -> float:
    return signals_of(example)[SIGNAL_NAMES.index(name)]


def test_numbers_and_names_the_context_does_not_support_are_counted():
    grounded = Example(
        prompt="How long do refunds take?", context=POLICY, response="Within 30 days, from Austin."
    )
    invented = Example(
        prompt="How long do refunds take?",
        context=POLICY,
        response="Refunds take 60 days once the parcel reaches our Denver hub, or 14 by express.",
    )
    assert _signal("unsupported_numbers", grounded) == 0.0
    assert _signal("unsupported_names", grounded) == 0.0
    assert _signal("unsupported_numbers", invented) == pytest.approx(np.log1p(2))  # 60 and 14
    assert _signal("unsupported_names", invented) == pytest.approx(np.log1p(1))  # Denver
    # a number the user gave in the prompt is supported too
    asked = Example(prompt="Is order 55123 late?", context=POLICY, response="Order 55123 is not.")
    assert _signal("unsupported_numbers", asked) == 0.0
    # without a context there is nothing to contradict
    assert _signal("unsupported_numbers", Example(response="It costs 40 dollars.")) == 0.0


def test_an_older_fit_scores_on_the_columns_it_was_fitted_on():
    examples = [
        Example(response=f"Answer {i}: it ships in {i} days.", context=POLICY) for i in range(30)
    ]
    current = CheapSignals().fit(examples)
    assert current.transform(examples).shape == (30, len(SIGNAL_NAMES))
    # What an artifact written before the grounding signals holds: no names_, 21 columns.
    legacy = CheapSignals().fit(examples)
    keep = [SIGNAL_NAMES.index(n) for n in LEGACY_SIGNAL_NAMES]
    legacy.clip_, legacy.mean_, legacy.scale_ = (
        a[keep] for a in (legacy.clip_, legacy.mean_, legacy.scale_)
    )
    del legacy.names_
    scored = legacy.transform(examples)
    assert scored.shape == (30, len(LEGACY_SIGNAL_NAMES))
    np.testing.assert_allclose(scored, current.transform(examples)[:, keep])
    assert list(legacy.get_feature_names_out()) == list(LEGACY_SIGNAL_NAMES)
