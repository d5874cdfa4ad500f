"""The ingest benchmark runs end to end and measures what it claims to measure.

A behavioural smoke test, not a timing target: on a small input it must store every record,
find every record again on re-ingest, and show batching beating the per-row ORM loop.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "ingest.py"


@pytest.mark.slow
def test_ingest_benchmark_smoke(tmp_path: Path) -> None:
    out_file = tmp_path / "bench.json"
    argv = ["--n", "2000", "--naive-n", "200", "--skip-postgres", "--out", str(out_file)]
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), *argv],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)  # stdout is exactly one JSON document
    assert json.loads(out_file.read_text(encoding="utf-8")) == result

    assert result["benchmark"] == "ingest"
    assert result["n"] == 2000
    assert result["file_bytes"] > 2000 * 500  # prompts and responses of 50-150 words each
    assert set(result["results"]) == {
        "sqlite",
        "sqlite_naive_orm",
        "postgresql",
        "postgresql_naive_orm",
    }
    assert result["results"]["postgresql"] == {"skipped": "--skip-postgres given"}
    assert result["ratios"]["postgresql_pipeline_vs_naive"] is None
    assert result["met"]["postgresql"] is None
    assert set(result["met"]) == {"sqlite", "postgresql", "sqlite_vs_naive", "postgresql_vs_naive"}
    assert result["targets"] == {
        "sqlite_records_per_s": 20000,
        "postgresql_records_per_s": 10000,
        "vs_naive": 10,
    }

    pipeline = result["results"]["sqlite"]
    assert pipeline["read"] == pipeline["stored"] == pipeline["rows_in_table"] == 2000
    assert (pipeline["duplicates"], pipeline["rejected"]) == (0, 0)
    # ~5% of records carry an e-mail address or a phone number: the redactor must see them.
    assert pipeline["redactions"].get("email", 0) > 0 and pipeline["redactions"].get("phone", 0) > 0

    naive = result["results"]["sqlite_naive_orm"]
    assert naive["n"] == naive["rows_in_table"] == 200
    # Batching must beat a commit per row. Compared per CPU second: SQLite works inside the
    # benchmark's process, so this counts all of both sides' work and a busy CI machine cannot
    # flip it the way it can flip two short wall-clock windows.
    assert pipeline["records_per_cpu_s"] > naive["records_per_cpu_s"] > 0
    ratio = pipeline["pipeline_records_per_s"] / naive["records_per_s"]
    assert result["ratios"]["sqlite_pipeline_vs_naive"] == pytest.approx(ratio, abs=0.06)
    cpu_ratio = pipeline["records_per_cpu_s"] / naive["records_per_cpu_s"]
    assert result["ratios"]["sqlite_pipeline_vs_naive_cpu"] == pytest.approx(cpu_ratio, abs=0.06)
    assert result["met"]["sqlite"] == (pipeline["pipeline_records_per_s"] >= 20000)

    reingest = result["reingest"]
    assert (reingest["stored"], reingest["duplicates"]) == (0, 2000)
    assert reingest["sqlite_records_per_s"] > 0 and reingest["sqlite_records_per_cpu_s"] > 0

    assert "no redaction" in result["baseline_description"]
