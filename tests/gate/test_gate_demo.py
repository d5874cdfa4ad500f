"""The demo loop's gate step: a passing and a failing verdict, recorded and reported."""

from __future__ import annotations

from evalkit.gate.demo import run_demo_gates, summary_lines
from evalkit.store.gate_runs import gate_runs


def test_demo_gates(db, tmp_path):
    fast = ("support-answers", "refusals", "json-extraction")  # summaries: the slow model test
    good, bad = run_demo_gates(db, out_dir=tmp_path, suites=fast)
    assert (good.candidate, good.baseline, good.passed) == ("candidate-good", None, True)
    assert (bad.candidate, bad.baseline, bad.passed) == (
        "candidate-regressed",
        "candidate-good",
        False,
    )
    assert bad.reports["markdown"].read_text().startswith("## ❌ evalkit gate failed")
    assert (tmp_path / "candidate-good" / "gate.xml").exists()
    runs = gate_runs(db)
    assert len(runs) == 6 and sum(r.passed for r in runs) == 3
    lines = summary_lines([good, bad])
    assert lines[0] == "Gate candidate-good: PASSED"
    assert "Gate candidate-regressed vs candidate-good: FAILED" in lines
    assert any(
        line.startswith("  support-answers: pass rate 60.0% (12/20) — failed: ") for line in lines
    )
