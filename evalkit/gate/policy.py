"""The gate's decision: a candidate's results against the suite's thresholds and the baseline.

Four rules, each reported with its numbers whether it held or not:

1. **pass rate**: passed cases / judged cases ≥ ``pass_rate`` (skipped cases are not judged:
   they count neither way and are listed);
2. **per tag**: the same for the cases of each tag in ``thresholds.tags``;
3. **critical**: every critical case passes. A critical case that could not be judged fails
   this rule (it was not shown to pass); one that is flaky across repeats is reported, not
   decisive on its own;
4. **no regression** against a baseline judged by the same suite now: on the cases both have a
   verdict for, the candidate's pass rate may fall by at most ``max_drop``; a larger fall fails
   the gate only when the exact McNemar test on the flips is significant (p < ``alpha``), so a
   few cases flipping by chance do not block a deploy and a real drop does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from evalkit.gate.evaluate import CaseResult
from evalkit.gate.stats import mcnemar_exact
from evalkit.gate.suite import Suite, Thresholds


@dataclass(frozen=True)
class Rate:
    passed: int
    judged: int
    skipped: int = 0

    @property
    def value(self) -> float | None:
        return self.passed / self.judged if self.judged else None

    def __str__(self) -> str:
        if self.value is None:
            return "– (no case judged)"
        return f"{self.value:.1%} ({self.passed}/{self.judged})"


@dataclass(frozen=True)
class Rule:
    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class Comparison:
    """Paired comparison with the baseline on the cases both runs judged."""

    baseline: str
    paired: int
    regressed: tuple[str, ...]
    fixed: tuple[str, ...]
    baseline_rate: float | None
    candidate_rate: float | None
    p_value: float
    #: cases only one side has a verdict for (new cases, skipped ones)
    unpaired: int

    @property
    def drop(self) -> float:
        if self.baseline_rate is None or self.candidate_rate is None:
            return 0.0
        return self.baseline_rate - self.candidate_rate


@dataclass
class GateResult:
    """Everything a report needs: the suite, each case's result, the rules and the verdict."""

    suite: Suite
    candidate: str
    results: list[CaseResult]
    thresholds: Thresholds
    rules: list[Rule]
    overall: Rate
    by_tag: dict[str, Rate]
    comparison: Comparison | None
    started_at: datetime
    finished_at: datetime
    baseline_results: list[CaseResult] | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(rule.passed for rule in self.rules)

    @property
    def flaky(self) -> list[CaseResult]:
        return [r for r in self.results if r.status == "flaky"]

    @property
    def skipped(self) -> list[CaseResult]:
        return [r for r in self.results if r.status == "skip"]


def rate(results: Sequence[CaseResult]) -> Rate:
    verdicts = [r.verdict for r in results]
    judged = [v for v in verdicts if v is not None]
    return Rate(sum(judged), len(judged), len(verdicts) - len(judged))


def compare(
    candidate: Sequence[CaseResult], baseline: Sequence[CaseResult], *, name: str
) -> Comparison:
    before = {r.case.id: r.verdict for r in baseline}
    regressed, fixed = [], []
    both_pass_before = both_pass_after = paired = 0
    for result in candidate:
        old, new = before.get(result.case.id), result.verdict
        if old is None or new is None:
            continue
        paired += 1
        both_pass_before += old
        both_pass_after += new
        if old and not new:
            regressed.append(result.case.id)
        elif new and not old:
            fixed.append(result.case.id)
    return Comparison(
        baseline=name,
        paired=paired,
        regressed=tuple(regressed),
        fixed=tuple(fixed),
        baseline_rate=both_pass_before / paired if paired else None,
        candidate_rate=both_pass_after / paired if paired else None,
        p_value=mcnemar_exact(len(regressed), len(fixed)),
        unpaired=len(candidate) - paired,
    )


def decide(
    suite: Suite,
    candidate: str,
    results: list[CaseResult],
    *,
    started_at: datetime,
    finished_at: datetime,
    baseline: tuple[str, list[CaseResult]] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> GateResult:
    """Apply the rules; ``overrides`` (``pass_rate``, ``max_drop``, ``alpha``, ``tags`` from the
    command line; ``None`` values ignored) replace the suite's values."""
    t = _merge(suite.thresholds, overrides)
    rules: list[Rule] = []
    overall = rate(results)
    if t.pass_rate is not None:
        ok = overall.value is not None and overall.value >= t.pass_rate
        rules.append(Rule(f"pass rate ≥ {t.pass_rate:.0%}", ok, f"pass rate {overall}"))
    by_tag = {
        tag: rate([r for r in results if tag in r.case.tags])
        for tag in sorted({tag for r in results for tag in r.case.tags})
    }
    for tag, minimum in sorted(t.tags.items()):
        tag_rate = by_tag.get(tag, Rate(0, 0))
        ok = tag_rate.value is not None and tag_rate.value >= minimum
        rules.append(Rule(f"tag {tag} ≥ {minimum:.0%}", ok, f"{tag}: {tag_rate}"))
    rules.append(_critical_rule(results))
    comparison = None
    baseline_results = None
    if baseline is not None:
        name, baseline_results = baseline
        comparison = compare(results, baseline_results, name=name)
        rules.append(_regression_rule(comparison, t))
    warnings = []
    if overall.skipped:
        warnings.append(f"{overall.skipped} case(s) could not be judged (skipped, not counted)")
    return GateResult(
        suite=suite,
        candidate=candidate,
        results=results,
        thresholds=t,
        rules=rules,
        overall=overall,
        by_tag=by_tag,
        comparison=comparison,
        started_at=started_at,
        finished_at=finished_at,
        baseline_results=baseline_results,
        warnings=warnings,
    )


def _critical_rule(results: Sequence[CaseResult]) -> Rule:
    critical = [r for r in results if r.case.critical]
    failing = [r.case.id for r in critical if r.status == "fail"]
    unjudged = [r.case.id for r in critical if r.status == "skip"]
    flaky = [r.case.id for r in critical if r.status == "flaky"]
    if not critical:
        return Rule("every critical case passes", True, "no critical cases")
    parts = [f"{len(critical) - len(failing) - len(unjudged) - len(flaky)}/{len(critical)} pass"]
    if failing:
        parts.append("failing: " + ", ".join(failing))
    if unjudged:
        parts.append("not judged: " + ", ".join(unjudged))
    if flaky:
        parts.append("flaky (not decisive alone): " + ", ".join(flaky))
    return Rule("every critical case passes", not failing and not unjudged, "; ".join(parts))


def _regression_rule(c: Comparison, t: Thresholds) -> Rule:
    max_drop = t.max_drop if t.max_drop is not None else 0.0
    detail = (
        f"{c.paired} paired cases: {len(c.regressed)} regressed, {len(c.fixed)} fixed; "
        f"pass rate {_pct(c.baseline_rate)} → {_pct(c.candidate_rate)} "
        f"(drop {c.drop:+.1%}, allowed {max_drop:.1%}); exact McNemar p = {c.p_value:.3g}"
    )
    significant = len(c.regressed) > len(c.fixed) and c.p_value < t.alpha
    failed = c.drop > max_drop + 1e-12 and significant
    if c.drop > max_drop + 1e-12 and not significant:
        detail += f" — not significant at α = {t.alpha:g}"
    return Rule(f"no significant regression vs {c.baseline}", not failed, detail)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.1%}"


def _merge(base: Thresholds, overrides: Mapping[str, Any] | None) -> Thresholds:
    changes = {k: v for k, v in (overrides or {}).items() if v is not None}
    if "tags" in changes:
        changes["tags"] = {**base.tags, **changes["tags"]}
    return replace(base, **changes)
