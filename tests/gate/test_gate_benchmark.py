"""The gate benchmark runs end to end and reports what it measured (not a timing target)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gate.py"


@pytest.mark.slow
def test_gate_benchmark_smoke():
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--n", "60", "--runs", "1"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["benchmark"] == "gate" and result["targets"]["deterministic_seconds"] == 3.0
    for form in ("inline_yaml", "cases_file_jsonl"):
        run = result["deterministic"][form]
        # 2 of 60 answers miss their fact (i % 37 == 1): the gate judged every case.
        assert run["overall"] == {"pass_rate": 58 / 60, "passed": 58, "judged": 60, "skipped": 0}
        assert run["exit_code"] == 0 and run["median_cpu_seconds"] > 0
    assert result["met"]["semantic"] is None
