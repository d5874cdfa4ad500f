"""``risk`` through a real trained classifier and ``evalkit.guard.Guard`` (slow: trains one)."""

from __future__ import annotations

import pytest

from evalkit.gate import Case, Check, RunOptions
from evalkit.gate.registry import validate_spec

CASE = Case(
    id="c",
    prompt="How long do I have to return my desk fan?",
    context="Refunds are accepted within 30 days of delivery.",
)
ANSWERS = [
    "You can return it within 30 days of delivery.",
    "You have 120 days, and we refund shipping twice over.",
]


@pytest.mark.slow
def test_risk_scores_through_the_guard_with_its_threshold():
    from evalkit.guard import Guard
    from tests.learn import support

    artifact = str(support.trained().path)
    guard = Guard.load(artifact)
    expected = [guard.check(prompt=CASE.prompt, response=a, context=CASE.context) for a in ANSWERS]
    options = RunOptions(classifier=artifact)
    for threshold, status in ((1.0, "pass"), (0.0, "fail")):
        spec = validate_spec("risk", "hallucination", threshold)
        checks = [
            Check(a, CASE, value=spec.value, threshold=threshold, options=options) for a in ANSWERS
        ]
        outcomes = spec.definition.fn(checks)
        assert [o.status for o in outcomes] == [status, status]
        for outcome, verdict in zip(outcomes, expected, strict=True):
            assert outcome.score == pytest.approx(verdict.scores["hallucination"])
            assert f"hallucination risk {outcome.score:.3f}" in outcome.reason
