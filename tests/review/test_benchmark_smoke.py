"""benchmarks/review_queue.py runs end to end and reports what it measured (a smoke test, not
a timing target: the machine running tests may be busy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "review_queue.py"


@pytest.mark.slow
def test_review_queue_benchmark_smoke():
    argv = ["--items", "30", "--reviewers", "2", "--skip-postgres", "--think-ms", "5"]
    done = subprocess.run(
        [sys.executable, str(SCRIPT), *argv], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["benchmark"] == "review_queue" and "postgresql" not in result["results"]
    assert set(result["results"]["sqlite"]) == {"paced", "saturated"}
    assert result["results"]["sqlite"]["paced"]["think_ms"] == 5
    sqlite = result["results"]["sqlite"]["saturated"]
    # Every item claimed once per needed review, plus each reviewer's final empty claim, less
    # each reviewer's first (connection set-up) claim.
    assert sqlite["claims"] >= 30 and sqlite["store_errors"] == 0
    assert 0 < sqlite["claim_ms"]["p50"] <= sqlite["claim_ms"]["p99"] <= sqlite["claim_ms"]["max"]
