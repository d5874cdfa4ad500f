"""JUnit XML in the shape CI systems read (Jenkins, GitLab, GitHub test reporters).

One ``<testsuite>`` per golden suite, one ``<testcase>`` per case (``classname`` = suite,
``name`` = case id) whose ``<failure>`` carries the reasons (``<error>`` when only a crashed
assertion failed it), ``<skipped>`` for a case that could not be judged; and one more
``<testcase>`` per gate rule (``classname`` = ``SUITE.gate``), so a gate that fails on its pass
rate or on a regression shows red in the test view even when each failing case is also listed.
Flaky cases pass or fail by their verdict and say so in ``<system-out>``.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from evalkit.gate.evaluate import CaseResult
from evalkit.gate.policy import GateResult

#: XML 1.0 forbids most control characters; model outputs sometimes contain them.
_FORBIDDEN = dict.fromkeys(c for c in range(32) if c not in (9, 10, 13))


def _clean(text: str) -> str:
    return text.translate(_FORBIDDEN)


def _seconds(g: GateResult) -> str:
    return f"{max(0.0, (g.finished_at - g.started_at).total_seconds()):.3f}"


def _errored(r: CaseResult) -> bool:
    """Failed only because an assertion crashed (a tooling problem, not a quality one): JUnit's
    ``<error>`` rather than ``<failure>``, so CI tells the two apart."""
    outcomes = [a.outcome.status for run in r.runs for a in run.assertions]
    no_output = any(run.error is not None for run in r.runs)
    return "error" in outcomes and "fail" not in outcomes and not no_output


def _testcase(parent: ET.Element, suite: str, r: CaseResult) -> None:
    latencies = [run.latency_ms for run in r.runs if run.latency_ms is not None]
    time = sum(latencies) / 1000 / len(latencies) if latencies else 0.0
    el = ET.SubElement(parent, "testcase", name=r.case.id, classname=suite, time=f"{time:.3f}")
    reasons = r.reasons()
    if r.verdict is False:
        first = reasons[0] if reasons else "failed"
        tag, kind = ("error", "AssertionError") if _errored(r) else ("failure", "AssertionFailed")
        failure = ET.SubElement(el, tag, message=_clean(first[:500]), type=kind)
        failure.text = _clean("\n".join(reasons))
    elif r.status == "skip":
        ET.SubElement(el, "skipped", message=_clean("; ".join(reasons)[:500] or "not judged"))
    notes = []
    if r.status == "flaky":
        notes.append(f"flaky: passed {r.pass_fraction:.0%} of {len(r.runs)} runs")
    if r.case.critical:
        notes.append("critical case")
    if notes or (reasons and r.verdict):
        out = ET.SubElement(el, "system-out")
        out.text = _clean("\n".join(notes + reasons))


def junit_xml(results: Sequence[GateResult]) -> str:
    root = ET.Element("testsuites", name="evalkit gate")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    host = socket.gethostname() or "localhost"
    for i, g in enumerate(results):
        cases = len(g.results) + len(g.rules)
        errors = sum(r.verdict is False and _errored(r) for r in g.results)
        failures = sum(r.verdict is False for r in g.results) - errors
        failures += sum(not r.passed for r in g.rules)
        skipped = sum(r.status == "skip" for r in g.results)
        suite_el = ET.SubElement(
            root,
            "testsuite",
            name=g.suite.name,
            tests=str(cases),
            failures=str(failures),
            errors=str(errors),
            skipped=str(skipped),
            time=_seconds(g),
            timestamp=g.started_at.strftime("%Y-%m-%dT%H:%M:%S"),
            hostname=host,
            id=str(i),
            package=g.suite.name,
        )
        props = ET.SubElement(suite_el, "properties")
        for name, value in (
            ("candidate", g.candidate),
            ("baseline", g.comparison.baseline if g.comparison else ""),
            ("verdict", "passed" if g.passed else "failed"),
            ("suite_file", str(g.suite.path)),
        ):
            ET.SubElement(props, "property", name=name, value=_clean(value))
        for r in g.results:
            _testcase(suite_el, g.suite.name, r)
        for rule in g.rules:
            el = ET.SubElement(
                suite_el, "testcase", name=rule.name, classname=f"{g.suite.name}.gate", time="0"
            )
            if not rule.passed:
                failure = ET.SubElement(
                    el, "failure", message=_clean(rule.detail[:500]), type="GateRule"
                )
                failure.text = _clean(rule.detail)
        totals["tests"] += cases
        totals["failures"] += failures
        totals["errors"] += errors
        totals["skipped"] += skipped
    # The Jenkins schema (junit-10.xsd) has no ``skipped`` on ``<testsuites>``, only per suite.
    for key in ("tests", "failures", "errors"):
        root.set(key, str(totals[key]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, "unicode") + "\n"
