"""One gate run: load suites, judge the candidate (and the baseline), decide, record.

The baseline is judged again now, by the same suite, rather than read from an old report: a
changed assertion then moves both sides alike, and the comparison is of outputs alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evalkit.gate.evaluate import RunOptions, evaluate
from evalkit.gate.outputs import OutputSet
from evalkit.gate.policy import GateResult, decide
from evalkit.gate.suite import Suite, SuiteError, load_suite
from evalkit.records import utcnow

if TYPE_CHECKING:
    from evalkit.store.database import Database
    from evalkit.store.gate_runs import GateRunRecord


def load_suites(paths: Sequence[str | Path]) -> list[Suite]:
    """Every suite, with the problems of all of them reported together."""
    suites: list[Suite] = []
    problems: list[str] = []
    for path in paths:
        try:
            suites.append(load_suite(path))
        except SuiteError as exc:
            problems.extend(exc.problems)
    names = [s.name for s in suites]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"two suites are named {name!r}: give each a name of its own")
    if problems:
        raise SuiteError(problems)
    return suites


def gate_suite(
    suite: Suite,
    candidate: OutputSet,
    *,
    baseline: OutputSet | None = None,
    overrides: Mapping[str, Any] | None = None,
    options: RunOptions | None = None,
) -> GateResult:
    started = utcnow()
    results = evaluate(
        suite, candidate.for_suite(suite.name), source=candidate.source, options=options
    )
    judged_baseline = None
    if baseline is not None:
        base = evaluate(
            suite, baseline.for_suite(suite.name), source=baseline.source, options=options
        )
        judged_baseline = (baseline.name, base)
    return decide(
        suite,
        candidate.name,
        results,
        started_at=started,
        finished_at=utcnow(),
        baseline=judged_baseline,
        overrides=overrides,
    )


def run_gate(
    suites: Sequence[Suite],
    candidate: OutputSet,
    *,
    baseline: OutputSet | None = None,
    overrides: Mapping[str, Any] | None = None,
    options: RunOptions | None = None,
) -> list[GateResult]:
    """Gate ``candidate`` on every suite; the run passes when every suite does."""
    known = {case.id for suite in suites for case in suite.cases}
    results = [
        gate_suite(s, candidate, baseline=baseline, overrides=overrides, options=options)
        for s in suites
    ]
    # Lines for a suite not in this run are not stray: one file often answers several suites.
    names = {suite.name for suite in suites}
    ours = {row.id for row in candidate.rows if row.suite is None or row.suite in names}
    stray = sorted(ours - known)
    if stray:
        shown = ", ".join(stray[:5]) + (f" and {len(stray) - 5} more" if len(stray) > 5 else "")
        results[0].warnings.append(
            f"{len(stray)} output id(s) in {candidate.source} match no case: {shown}"
        )
    return results


def run_records(results: Sequence[GateResult]) -> list[GateRunRecord]:
    """One ``gate_runs`` row per suite (suite, candidate, baseline, verdict, rates by tag)."""
    from evalkit.gate.report.json_report import suite_summary
    from evalkit.store.gate_runs import GateRunRecord

    return [
        GateRunRecord(
            suite=g.suite.name,
            candidate=g.candidate,
            baseline=g.comparison.baseline if g.comparison else None,
            passed=g.passed,
            summary=suite_summary(g),
            started_at=g.started_at,
            finished_at=g.finished_at,
        )
        for g in results
    ]


def record_runs(db: Database, results: Sequence[GateResult]) -> list[int]:
    """Store the runs in an open store; returns the row ids."""
    from evalkit.store.gate_runs import record_gate_run

    return [record_gate_run(db, record) for record in run_records(results)]


def record_runs_at(url: str, results: Sequence[GateResult]) -> list[int]:
    """Store the runs at ``url`` without loading the migration machinery when the store exists
    (``evalkit gate`` keeps its start-up fast this way)."""
    from evalkit.store.gate_runs import record_gate_runs_at

    return record_gate_runs_at(url, run_records(results))
