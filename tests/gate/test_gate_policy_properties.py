"""Invariants of the gate's decision, over random suites of pass/fail verdicts."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.gate.evaluate import AssertionResult, CaseResult, RunResult
from evalkit.gate.policy import decide
from evalkit.gate.registry import Outcome, validate_spec
from evalkit.gate.suite import Case, Suite, Thresholds

SPEC = validate_spec("contains", "x", None)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def results(verdicts: list[bool], cases: list[Case]) -> list[CaseResult]:
    return [
        CaseResult(
            case,
            [
                RunResult(
                    0, "o", None, [AssertionResult(SPEC, Outcome("pass" if v else "fail", "r"))]
                )
            ],
        )
        for case, v in zip(cases, verdicts, strict=True)
    ]


def suite_of(n: int, **thresholds) -> tuple[Suite, list[Case]]:
    cases = [Case(id=f"c{i}", prompt="p", asserts=(SPEC,)) for i in range(n)]
    return Suite("s", Path("s.yaml"), tuple(cases), thresholds=Thresholds(**thresholds)), cases


@settings(max_examples=80, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=80), st.floats(0, 0.2))
def test_a_candidate_equal_to_its_baseline_never_regresses(verdicts, max_drop):
    suite, cases = suite_of(len(verdicts), pass_rate=0.0, max_drop=max_drop)
    base = results(verdicts, cases)
    g = decide(
        suite, "c", results(verdicts, cases), started_at=NOW, finished_at=NOW, baseline=("b", base)
    )
    assert g.passed
    assert g.comparison.regressed == () and g.comparison.fixed == () and g.comparison.p_value == 1.0


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans()), min_size=1, max_size=80))
def test_regression_verdict_is_monotone_in_new_failures(pairs):
    """Turning one more of the candidate's passes into a failure never turns a failing gate
    into a passing one."""
    suite, cases = suite_of(len(pairs), pass_rate=0.0, max_drop=0.0)
    base = results([b for b, _ in pairs], cases)
    cand = [c for _, c in pairs]

    def fails(verdicts):
        g = decide(
            suite,
            "c",
            results(verdicts, cases),
            started_at=NOW,
            finished_at=NOW,
            baseline=("b", base),
        )
        return not g.passed

    before = fails(cand)
    if True in cand:
        worse = list(cand)
        worse[cand.index(True)] = False
        assert fails(worse) or not before


@settings(max_examples=60, deadline=None)
@given(st.lists(st.booleans(), min_size=1, max_size=60), st.floats(0, 1))
def test_pass_rate_rule_matches_its_definition(verdicts, threshold):
    suite, cases = suite_of(len(verdicts), pass_rate=threshold)
    g = decide(suite, "c", results(verdicts, cases), started_at=NOW, finished_at=NOW)
    assert g.overall.passed == sum(verdicts) and g.overall.judged == len(verdicts)
    assert g.passed == (sum(verdicts) / len(verdicts) >= threshold)
