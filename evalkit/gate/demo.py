"""The gate's step in the demo loop: the example suites on a good and a regressed candidate.

Both candidates' outputs are recorded in ``golden_sets/outputs/``; the regressed one is judged
against the good one as its baseline, as a pull request would be against main. Each run is
recorded in the store (``gate_runs``) and its reports are written, so the demo shows a passing
and a failing gate with the reports a reviewer would read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from evalkit.gate.outputs import load_outputs
from evalkit.gate.policy import GateResult
from evalkit.gate.report import junit_xml, markdown, report_json
from evalkit.gate.run import load_suites, record_runs, run_gate

if TYPE_CHECKING:
    from evalkit.store.database import Database

#: The project's own example suites, beside the package in a source checkout.
GOLDEN_SETS = Path(__file__).resolve().parents[2] / "golden_sets"
SUITES = ("support-answers", "refusals", "json-extraction", "summaries")


@dataclass
class DemoGate:
    candidate: str
    baseline: str | None
    results: list[GateResult]
    reports: dict[str, Path] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return all(g.passed for g in self.results)


def run_demo_gates(
    db: Database,
    *,
    out_dir: Path,
    golden_sets: Path = GOLDEN_SETS,
    suites: Sequence[str] = SUITES,
) -> list[DemoGate]:
    """Gate ``candidate-good`` (passes) and ``candidate-regressed`` against it (fails); record
    both in the store and write ``gate.md``, ``gate.xml`` and ``gate.json`` under
    ``out_dir/<candidate>/``. ``summaries`` loads the MiniLM embedding (a few seconds); leave it
    out of ``suites`` for a faster loop."""
    loaded = load_suites([golden_sets / f"{name}.yaml" for name in suites])
    good = load_outputs(golden_sets / "outputs" / "candidate-good.jsonl")
    bad = load_outputs(golden_sets / "outputs" / "candidate-regressed.jsonl")
    gates = []
    for candidate, baseline in ((good, None), (bad, good)):
        results = run_gate(loaded, candidate, baseline=baseline)
        record_runs(db, results)
        folder = out_dir / candidate.name
        folder.mkdir(parents=True, exist_ok=True)
        reports = {}
        for kind, name, render in (
            ("markdown", "gate.md", markdown),
            ("junit", "gate.xml", junit_xml),
            ("json", "gate.json", report_json),
        ):
            path = folder / name
            path.write_text(render(results), encoding="utf-8")
            reports[kind] = path
        gates.append(
            DemoGate(candidate.name, baseline.name if baseline else None, results, reports)
        )
    return gates


def summary_lines(gates: Sequence[DemoGate]) -> list[str]:
    """Plain lines for the demo's console: each candidate's verdict and what decided it."""
    lines = []
    for gate in gates:
        versus = f" vs {gate.baseline}" if gate.baseline else ""
        lines.append(f"Gate {gate.candidate}{versus}: {'PASSED' if gate.passed else 'FAILED'}")
        for g in gate.results:
            broken = [r.name for r in g.rules if not r.passed]
            state = "passed" if g.passed else "failed: " + "; ".join(broken)
            lines.append(f"  {g.suite.name}: pass rate {g.overall} — {state}")
        lines.append(f"  report: {gate.reports['markdown']}")
    return lines
