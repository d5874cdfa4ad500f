"""Preparing records in worker processes gives exactly what preparing them in-process gives."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import msgspec
import pytest

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.store.database import Database
from evalkit.store.queries import get_response, response_ids
from tests.helpers import record, write_jsonl


def _mixed(tmp_path):
    rows = [record(i, prompt=f"mail me at user{i}@example.com") for i in range(600)]
    rows[10] = '{"id": "broken'
    rows[20] = {"id": "no-response"}
    rows[30] = record(5, response="other content")  # conflicts with line 6
    rows[40] = "[1, 2]"
    path = write_jsonl(tmp_path / "mixed.jsonl", rows)
    with path.open("ab") as fh:  # its error names an id holding a lone surrogate
        fh.write(b'{"id": "\xffbad", "response": "x"}\n')
    return path


@pytest.mark.slow
def test_worker_processes_match_the_in_process_path(tmp_path, store_url):
    from evalkit.settings import Settings

    path = _mixed(tmp_path)
    reports, stored = [], []
    for workers, url in ((1, store_url), (2, f"sqlite:///{tmp_path / 'pool.db'}")):
        settings = Settings(
            data_dir=tmp_path,
            database_url=url,
            ingest_workers=workers,
            batch_size=97,
            _env_file=None,
        )
        db = Database.open(url)
        reports.append(Ingestor(db, settings, IngestOptions()).ingest_files([path]))
        stored.append(
            [
                msgspec.structs.replace(get_response(db, rid), received_at=None)
                for rid in response_ids(db)
            ]
        )
        db.dispose()
    in_process, pooled = reports
    assert (pooled.read, pooled.stored, pooled.invalid, pooled.conflicts) == (601, 596, 4, 1)
    assert pooled.redactions == in_process.redactions == {"email": 596}

    def errors(report):
        return [(e.location, e.field, e.message, e.record_id) for e in report.errors]

    assert errors(pooled) == errors(in_process)
    assert [e.location for e in pooled.errors] == [
        "line 11",
        "line 21",
        "line 41",
        "line 601",
        "line 31",
    ]
    assert pooled.errors[3].record_id == "\udcffbad"
    assert stored[0] == stored[1]


@pytest.mark.slow
def test_a_script_without_a_main_guard_can_use_workers(tmp_path):
    """Spawned workers must not re-run the user's script (they would ingest again, or fail)."""
    path = write_jsonl(tmp_path / "in.jsonl", [record(i) for i in range(300)])
    script = tmp_path / "unguarded.py"
    script.write_text(
        textwrap.dedent(f"""
        import json
        from pathlib import Path
        from evalkit.capture.ingest import Ingestor
        from evalkit.settings import Settings
        from evalkit.store.database import Database
        settings = Settings(data_dir=Path({str(tmp_path)!r}), ingest_workers=2, _env_file=None)
        db = Database.open(settings.resolved_database_url)
        report = Ingestor(db, settings).ingest_files([Path({str(path)!r})])
        print(json.dumps({{"stored": report.stored, "errors": len(report.errors)}}))
    """)
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in done.stdout.splitlines()] == [{"stored": 300, "errors": 0}]
