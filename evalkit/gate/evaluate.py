"""Judging a candidate: every assertion of every case on every recorded output.

Plain assertions run case by case; batch assertions (embeddings, LLM judges, the guard) are
gathered and run once per definition over the whole suite, because they are only fast in
batches. An assertion that raises is an ``error`` outcome naming the exception, never a pass;
a case without an output fails with the reason.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from evalkit.gate.outputs import CandidateOutput
from evalkit.gate.registry import AssertSpec, Check, Outcome, as_outcome
from evalkit.gate.suite import Case, Suite


@dataclass(frozen=True)
class JudgeConfig:
    """An OpenAI-compatible model that LLM-judge metrics may call; absent means they skip."""

    base_url: str
    model: str
    api_key: str | None = None


@dataclass(frozen=True)
class RunOptions:
    """Run-wide inputs of assertions that need more than the case: a judge, a classifier."""

    judge: JudgeConfig | None = None
    #: a guard artifact folder (``classifiers/<version>``) for ``risk`` assertions
    classifier: str | None = None


@dataclass(frozen=True)
class AssertionResult:
    spec: AssertSpec
    outcome: Outcome


@dataclass
class RunResult:
    """One output of a case (one of ``--repeat N``) and what each assertion said of it."""

    repeat: int
    output: str | None
    latency_ms: float | None
    assertions: list[AssertionResult] = field(default_factory=list)
    #: why there is no output (missing from the file, the endpoint failed)
    error: str | None = None

    @cached_property
    def status(self) -> str:
        """``fail`` if any assertion failed or errored (or no output); ``skip`` if none failed
        but one could not be judged; else ``pass``."""
        if self.error is not None:
            return "fail"
        statuses = {a.outcome.status for a in self.assertions}
        if statuses & {"fail", "error"}:
            return "fail"
        return "skip" if "skip" in statuses else "pass"

    def reasons(self) -> list[str]:
        """What went wrong, one line per failed, errored or skipped assertion."""
        if self.error is not None:
            return [self.error]
        labels = {"fail": "", "error": "error: ", "skip": "skipped: "}
        return [
            f"{a.spec.type}: {labels[a.outcome.status]}{a.outcome.reason}"
            for a in self.assertions
            if a.outcome.status != "pass"
        ]


@dataclass
class CaseResult:
    """A case's verdict over its runs.

    ``status``: ``pass`` / ``fail`` (every judged run agrees), ``flaky`` (runs disagree),
    ``skip`` (no run could be judged). ``verdict`` is the pass/fail the rates and the paired
    test use: a flaky case passes when its pass fraction reaches ``repeat_pass_fraction``.
    Each is computed once, when first read, which is after ``evaluate`` filled in every run.
    """

    case: Case
    runs: list[RunResult]
    repeat_pass_fraction: float = 0.5

    @cached_property
    def judged(self) -> list[RunResult]:
        return [r for r in self.runs if r.status != "skip"]

    @cached_property
    def pass_fraction(self) -> float | None:
        judged = self.judged
        if not judged:
            return None
        return sum(r.status == "pass" for r in judged) / len(judged)

    @cached_property
    def status(self) -> str:
        fraction = self.pass_fraction
        if fraction is None:
            return "skip"
        if fraction == 1.0:
            return "pass"
        return "fail" if fraction == 0.0 else "flaky"

    @cached_property
    def verdict(self) -> bool | None:
        fraction = self.pass_fraction
        return None if fraction is None else fraction >= self.repeat_pass_fraction

    def reasons(self) -> list[str]:
        """Distinct reasons over the runs, each with how many runs gave it when repeated."""
        counts: dict[str, int] = {}
        for run in self.runs:
            for reason in run.reasons():
                counts[reason] = counts.get(reason, 0) + 1
        if len(self.runs) == 1:
            return list(counts)
        return [f"{reason} ({n}/{len(self.runs)} runs)" for reason, n in counts.items()]


def evaluate(
    suite: Suite,
    outputs: Mapping[str, Sequence[CandidateOutput]],
    *,
    source: str = "the outputs",
    options: RunOptions | None = None,
) -> list[CaseResult]:
    """Judge ``outputs`` (case id → its runs) against every case of ``suite``, in suite order."""
    options = options or RunOptions()
    results: list[CaseResult] = []
    pending: dict[int, list[tuple[RunResult, int, Check]]] = defaultdict(list)
    definitions: dict[int, Any] = {}
    for case in suite.cases:
        runs: list[RunResult] = []
        recorded = outputs.get(case.id) or ()
        if not recorded:
            runs.append(RunResult(0, None, None, error=f"no output for this case in {source}"))
        for i, out in enumerate(recorded):
            if out.output is None:
                runs.append(RunResult(i, None, out.latency_ms, error=f"no output: {out.error}"))
                continue
            run = RunResult(i, out.output, out.latency_ms)
            for spec in case.asserts:
                check = Check(
                    output=out.output,
                    case=case,
                    value=spec.value,
                    threshold=spec.threshold,
                    latency_ms=out.latency_ms,
                    arg=spec.arg,
                    options=options,
                )
                if spec.definition.batch:
                    slot = len(run.assertions)
                    run.assertions.append(AssertionResult(spec, Outcome("skip", "pending")))
                    pending[id(spec.definition)].append((run, slot, check))
                    definitions[id(spec.definition)] = spec.definition
                else:
                    run.assertions.append(AssertionResult(spec, _call(spec, check)))
            runs.append(run)
        results.append(CaseResult(case, runs, suite.thresholds.repeat_pass_fraction))
    for key, items in pending.items():
        definition = definitions[key]
        checks = [check for _, _, check in items]
        try:
            outcomes = list(definition.fn(checks))
            if len(outcomes) != len(checks):
                raise RuntimeError(f"returned {len(outcomes)} outcomes for {len(checks)} checks")
        except Exception as exc:
            outcomes = [Outcome("error", f"{definition.name} failed: {exc}")] * len(checks)
        for (run, slot, _), outcome in zip(items, outcomes, strict=True):
            run.assertions[slot] = AssertionResult(run.assertions[slot].spec, outcome)
    return results


def _call(spec: AssertSpec, check: Check) -> Outcome:
    try:
        return as_outcome(spec.definition.fn(check), spec.type)
    except Exception as exc:
        return Outcome("error", f"raised {type(exc).__name__}: {exc}")
