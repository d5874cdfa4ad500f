"""The HTTP ingest benchmark runs end to end and reports what it claims (not a timing target)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "http_ingest.py"


@pytest.mark.slow
def test_http_ingest_benchmark_smoke(tmp_path):
    out = tmp_path / "bench.json"
    argv = ["--clients", "3", "--requests", "2", "--batch", "20", "--skip-postgres"]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *argv, "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert json.loads(out.read_text(encoding="utf-8")) == result
    assert (result["benchmark"], result["records"]) == ("http_ingest", 120)
    assert result["results"]["postgresql"] == {"skipped": "--skip-postgres given"}
    sqlite = result["results"]["sqlite"]
    assert sqlite["http"]["requests"] == 6
    assert 0 < sqlite["http"]["p50_ms"] <= sqlite["http"]["p99_ms"] <= sqlite["http"]["max_ms"]
    assert sqlite["http_vs_file"] == pytest.approx(
        sqlite["http"]["records_per_s"] / sqlite["file"]["records_per_s"], abs=0.01
    )
    assert result["met"]["sqlite_http_vs_file"] == (sqlite["http_vs_file"] >= 0.5)
    assert result["met"]["postgresql_p99"] is None
