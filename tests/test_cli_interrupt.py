"""Stopping ``evalkit ingest`` half-way (Ctrl-C, or SIGTERM from a job runner).

What a user must be able to rely on: the ingest stops between two batches (no traceback, from
the command or its worker processes), the batches written stay stored and whole, the run leaves
an audit row saying it was interrupted, the command tells what stayed and exits 130, and
running the same command again stores exactly the rest.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import record

BATCH = 500
N = 40_000


def _big_file(path: Path) -> Path:
    words = "the answer is in the order history of your account " * 6
    with path.open("w", encoding="utf-8") as fh:
        for i in range(N):
            fh.write(json.dumps(record(i, response=f"{words} {i}")) + "\n")
    return path


def _count(db: Path, sql: str) -> list[tuple]:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return conn.execute(sql).fetchall()
    except sqlite3.OperationalError:  # not created yet
        return [(0,)]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("signum", "workers"),
    [(signal.SIGINT, 2), (signal.SIGTERM, 1)],
    ids=["ctrl-c-to-the-process-group", "sigterm"],
)
def test_an_interrupted_ingest_keeps_whole_batches_and_says_so(tmp_path, signum, workers):
    path = _big_file(tmp_path / "big.jsonl")
    db = tmp_path / "data" / "evalkit.db"
    env = {
        **os.environ,
        "EVALKIT_DATA_DIR": str(tmp_path / "data"),
        "EVALKIT_BATCH_SIZE": str(BATCH),
        "EVALKIT_INGEST_WORKERS": str(workers),
    }
    env.pop("EVALKIT_DATABASE_URL", None)
    command = [str(Path(sys.executable).with_name("evalkit")), "ingest", "-q", str(path)]
    # A terminal's Ctrl-C goes to the whole process group, workers included: start a group of
    # its own, with SIGINT handled as in a terminal (a background job would inherit "ignore").
    proc = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 60
    while _count(db, "SELECT count(*) FROM responses")[0][0] < BATCH:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no batch stored within 60 s"
        time.sleep(0.01)
    if signum == signal.SIGINT:
        os.killpg(proc.pid, signum)
    else:
        proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "Interrupted:" in err, err
    assert "Stopping after the batch being written" in err
    stored = _count(db, "SELECT count(*) FROM responses")[0][0]
    assert 0 < stored < N and stored % BATCH == 0  # whole batches only
    assert f"{stored:,} records in complete batches stayed stored" in err
    runs = _count(db, "SELECT status, stored FROM ingest_runs")
    assert runs == [("interrupted", stored)]

    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"stored {N - stored:,}, duplicates {stored:,}" in again.stdout
    assert _count(db, "SELECT count(*) FROM responses")[0][0] == N
    assert _count(db, "SELECT status FROM ingest_runs ORDER BY id") == [
        ("interrupted",),
        ("completed",),
    ]
