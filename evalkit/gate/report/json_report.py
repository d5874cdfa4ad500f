"""The JSON report: every case, every run, every assertion with its status and reason."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from evalkit.gate.evaluate import CaseResult
from evalkit.gate.policy import GateResult, Rate

#: Bumped when a field changes meaning; readers check it.
FORMAT = "evalkit-gate-report/1"


def _rate(r: Rate) -> dict[str, Any]:
    return {"pass_rate": r.value, "passed": r.passed, "judged": r.judged, "skipped": r.skipped}


def _case(result: CaseResult) -> dict[str, Any]:
    case = result.case
    return {
        "id": case.id,
        "status": result.status,
        "verdict": result.verdict,
        "pass_fraction": result.pass_fraction,
        "critical": case.critical,
        "tags": list(case.tags),
        "reasons": result.reasons(),
        "runs": [
            {
                "repeat": run.repeat,
                "status": run.status,
                "output": run.output,
                "latency_ms": run.latency_ms,
                "error": run.error,
                "assertions": [
                    {
                        "type": a.spec.type,
                        "value": a.spec.raw_value,
                        "threshold": a.spec.threshold,
                        "status": a.outcome.status,
                        "reason": a.outcome.reason,
                        "score": a.outcome.score,
                    }
                    for a in run.assertions
                ],
            }
            for run in result.runs
        ],
    }


def suite_summary(g: GateResult) -> dict[str, Any]:
    """The headline numbers of one suite: what the store keeps in ``gate_runs.summary``."""
    c = g.comparison
    return {
        "suite": g.suite.name,
        "file": str(g.suite.path),
        "owner": g.suite.owner,
        "candidate": g.candidate,
        "passed": g.passed,
        "overall": _rate(g.overall),
        "by_tag": {tag: _rate(r) for tag, r in g.by_tag.items()},
        "rules": [{"name": r.name, "passed": r.passed, "detail": r.detail} for r in g.rules],
        "flaky": [r.case.id for r in g.flaky],
        "skipped": [r.case.id for r in g.skipped],
        "failed": [r.case.id for r in g.results if r.verdict is False],
        "comparison": None
        if c is None
        else {
            "baseline": c.baseline,
            "paired": c.paired,
            "regressed": list(c.regressed),
            "fixed": list(c.fixed),
            "baseline_pass_rate": c.baseline_rate,
            "candidate_pass_rate": c.candidate_rate,
            "drop": c.drop,
            "p_value": c.p_value,
            "unpaired": c.unpaired,
        },
        "warnings": list(g.warnings),
        "started_at": g.started_at.isoformat(),
        "finished_at": g.finished_at.isoformat(),
    }


def report_dict(results: Sequence[GateResult]) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "passed": all(g.passed for g in results),
        "suites": [{**suite_summary(g), "cases": [_case(r) for r in g.results]} for g in results],
    }


def report_json(results: Sequence[GateResult]) -> str:
    return orjson.dumps(report_dict(results), option=orjson.OPT_INDENT_2).decode() + "\n"
