"""Several processes ingesting into one store at the same moment, on SQLite and PostgreSQL.

Each worker is a spawned process running the real ``evalkit ingest`` command (in-process, so a
barrier can line the workers up after their imports): every one waits for the others, then
ingests its own copy of a file in small batches, so their transactions interleave: on
PostgreSQL batches insert the same ids at once (``insert_missing`` skips what another stored
first, and the skipped ids are looked up); on SQLite the write lock makes the batches take
turns. What each run did is
read back from its ``ingest_runs`` audit row (one per file path) and its ``--errors-file``; a
crash inside a worker is caught and its traceback shown in the failure.

Timing decides how often the window is hit, so one test also opens it on purpose, in-process.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
import threading
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from evalkit.capture.ingest import Ingestor
from evalkit.store import writer as writer_module
from evalkit.store.database import Database, current_revision, head_revision
from evalkit.store.queries import get_response, response_ids
from evalkit.store.tables import INGEST_RUNS, RESPONSES
from tests.helpers import record, write_jsonl

N = 3000
BATCH = 20  # many short transactions per worker, so the workers' batches interleave
CRASHED = 70  # a worker's exit code when something escaped the CLI's own error handling
TIMEOUT = 180


def _cli_worker(url: str, path: str, errors: str, trace: str, barrier: Any) -> None:
    """Body of one spawned worker: ``evalkit ingest`` on ``path`` once every worker is ready."""
    os.environ["EVALKIT_DATABASE_URL"] = url
    os.environ["EVALKIT_BATCH_SIZE"] = str(BATCH)
    sys.argv = ["evalkit", "ingest", "--quiet", "--no-redact", "--errors-file", errors, path]
    try:
        # The CLI imports the ingest pipeline and the store only when the command runs; import
        # them before the barrier, so the workers start ingesting together instead of finishing
        # a file each in the time another spends importing (they then raced nothing).
        import evalkit.capture.ingest
        import evalkit.cli.ingest
        import evalkit.store.database  # noqa: F401
        from evalkit import cli

        barrier.wait(timeout=TIMEOUT)
        cli.main()
    except SystemExit:
        raise
    except BaseException:
        Path(trace).write_text(traceback.format_exc(), encoding="utf-8")
        raise SystemExit(CRASHED) from None


@dataclass(frozen=True)
class Run:
    """What one worker did: its exit code, its audit row and the errors it reported."""

    exit_code: int
    stored: int
    duplicates: int
    rejected: int
    started_at: datetime
    finished_at: datetime
    errors: tuple[dict[str, Any], ...]

    @property
    def conflict_ids(self) -> set[str]:
        return {e["id"] for e in self.errors if e["field"] == "id" and "conflict" in e["message"]}


def run_at_once(url: str, files: list[Path]) -> list[Run]:
    """Ingest each file in its own spawned ``evalkit ingest`` process, all at the same time."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(files))
    workers = []
    for file in files:
        errors, trace = file.with_suffix(".errors.jsonl"), file.with_suffix(".trace")
        proc = ctx.Process(
            target=_cli_worker, args=(url, str(file), str(errors), str(trace), barrier)
        )
        proc.start()
        workers.append((proc, file, errors, trace))
    for proc, *_ in workers:
        proc.join(TIMEOUT)
    hung = [proc for proc, *_ in workers if proc.is_alive()]
    for proc in hung:
        proc.kill()
        proc.join()
    assert not hung, f"{len(hung)} worker(s) still running after {TIMEOUT}s"
    crashes = [trace.read_text(encoding="utf-8") for *_, trace in workers if trace.exists()]
    assert not crashes, "a worker raised:\n" + "\n".join(crashes)

    db = Database.open(url, migrate=False)
    try:
        with db.engine.connect() as conn:
            audit = {row.source: row for row in conn.execute(select(INGEST_RUNS))}
    finally:
        db.dispose()
    runs = []
    for proc, file, errors, _ in workers:
        row = audit.get(str(file))
        assert row is not None, f"{file.name}: no ingest run recorded (exit {proc.exitcode})"
        lines = errors.read_text(encoding="utf-8").splitlines() if errors.exists() else []
        runs.append(
            Run(
                exit_code=proc.exitcode,
                stored=row.stored,
                duplicates=row.duplicates,
                rejected=row.rejected,
                started_at=row.started_at,
                finished_at=row.finished_at,
                errors=tuple(json.loads(line) for line in lines),
            )
        )
    return runs


def ran_together(runs: list[Run]) -> bool:
    """True when there was a moment at which every worker was ingesting."""
    return max(r.started_at for r in runs) < min(r.finished_at for r in runs)


ATTEMPTS = 4


def run_overlapping(db: Database, url: str, files: list[Path]) -> list[Run]:
    """``run_at_once``, repeated on an emptied store until the workers' runs overlap.

    Ingesting a few thousand rows takes well under a second, so on a loaded machine the
    scheduler can let one worker finish before another starts, and that run raced nothing.
    Such a run says nothing either way; it is thrown away (the responses and audit rows it
    wrote are deleted) and the race is run again. A run whose workers did overlap is always
    the one returned, so the assertions that follow still judge a real race, and one that
    never overlaps in ``ATTEMPTS`` tries still fails.
    """
    for _ in range(ATTEMPTS):
        for file in files:
            file.with_suffix(".errors.jsonl").unlink(missing_ok=True)
        runs = run_at_once(url, files)
        if ran_together(runs):
            return runs
        with db.engine.begin() as conn:
            conn.execute(INGEST_RUNS.delete())
            conn.execute(RESPONSES.delete())
    pytest.fail(f"the workers did not overlap in {ATTEMPTS} runs; the test raced nothing")


def stored_responses(db: Database) -> dict[str, str]:
    with db.engine.connect() as conn:
        rows = conn.execute(select(RESPONSES.c.id, RESPONSES.c.response))
        return {row.id: row.response for row in rows}


def copies(tmp_path: Path, rows: list[Any], n: int) -> list[Path]:
    """``n`` files with the same rows: the audit trail keeps one row per file path."""
    return [write_jsonl(tmp_path / f"copy-{i}.jsonl", rows) for i in range(n)]


@pytest.fixture
def new_store_url(store_url: str) -> Iterator[str]:
    """A store nobody has opened yet: no tables, no migration applied."""
    if make_url(store_url).get_backend_name() == "sqlite":
        yield store_url  # the file does not exist until the first open
        return
    admin = create_engine(store_url, isolation_level="AUTOCOMMIT")
    name = f"evalkit_new_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(store_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


# The store is migrated by the ``db`` fixture before these workers start: they race on the
# data, not on the schema (that is the last test).


@pytest.mark.slow
def test_the_same_file_ingested_by_four_processes_is_stored_once(db, store_url, tmp_path):
    runs = run_overlapping(db, store_url, copies(tmp_path, [record(i) for i in range(N)], 4))

    assert [r.exit_code for r in runs] == [0, 0, 0, 0], [r.errors[:3] for r in runs]
    assert [r.errors for r in runs] == [(), (), (), ()]
    assert sum(r.stored for r in runs) == N
    assert [(r.stored + r.duplicates, r.rejected) for r in runs] == [(N, 0)] * 4
    assert response_ids(db) == sorted(f"r-{i}" for i in range(N))
    assert stored_responses(db) == {f"r-{i}": record(i)["response"] for i in range(N)}


@pytest.mark.slow
def test_overlapping_files_store_each_id_once_without_conflicts(db, store_url, tmp_path):
    # Three windows over 0..N-1, one read backwards, so the same ids meet in opposite orders.
    windows = [range(0, 2 * N // 3), range(N // 3, N), range(N - 1, N // 6, -1)]
    files = [
        write_jsonl(tmp_path / f"window-{i}.jsonl", [record(j) for j in window])
        for i, window in enumerate(windows)
    ]
    runs = run_overlapping(db, store_url, files)

    assert [r.exit_code for r in runs] == [0, 0, 0], [r.errors[:3] for r in runs]
    assert [r.errors for r in runs] == [(), (), ()]
    assert sum(r.stored for r in runs) == N
    assert [(r.stored + r.duplicates, r.rejected) for r in runs] == [(len(w), 0) for w in windows]
    assert response_ids(db) == sorted(f"r-{i}" for i in range(N))
    assert stored_responses(db) == {f"r-{i}": record(i)["response"] for i in range(N)}


@pytest.mark.slow
def test_different_content_under_the_same_ids_keeps_one_version_each(db, store_url, tmp_path):
    files = [
        write_jsonl(
            tmp_path / f"{name}.jsonl",
            [record(i, response=f"Answer {i} from file {name}.") for i in range(N)],
        )
        for name in ("a", "b")
    ]
    run_a, run_b = run_overlapping(db, store_url, files)

    stored = stored_responses(db)
    assert sorted(stored) == sorted(f"r-{i}" for i in range(N))
    # Each id went to exactly one writer; the other was told it conflicts, and nothing it sent
    # replaced what the first had stored.
    assert run_a.conflict_ids.isdisjoint(run_b.conflict_ids)
    assert run_a.conflict_ids | run_b.conflict_ids == set(stored)
    for rid, text_ in stored.items():
        winner = "b" if rid in run_a.conflict_ids else "a"
        assert text_ == f"Answer {rid.removeprefix('r-')} from file {winner}.", rid
    for run in (run_a, run_b):
        assert (run.stored, run.duplicates) == (N - len(run.conflict_ids), 0)
        assert run.rejected == len(run.conflict_ids) == len(run.errors)
        assert run.exit_code == (1 if run.conflict_ids else 0)
        assert all(e["location"] == f"line {int(e['id'][2:]) + 1}" for e in run.errors)


def test_a_writer_storing_the_same_ids_while_a_batch_is_being_written(db, settings, tmp_path):
    """The race window, opened on purpose: once this ingest's batch is in its transaction and
    about to insert, another ingest (own connection, in a thread) stores two of the same ids,
    one with the same content and one with other content. Where the store lets it commit
    inside the window (PostgreSQL), the insert's ON CONFLICT and the look-up of skipped ids
    settle it; where the batch holds the write lock (SQLite, BEGIN IMMEDIATE) the other waits
    and finds this batch's rows. Either way each id is stored once and the two reports between
    them say exactly what happened."""
    plain = settings.model_copy(update={"redact_enabled": False})
    theirs_rows = [record(1), record(2, response="Their answer.")]
    insert = writer_module.insert_missing
    other: dict[str, Any] = {}

    def run_other() -> None:
        try:
            other["report"] = Ingestor(db, plain).ingest_records(theirs_rows)
        except BaseException as exc:
            other["error"] = exc

    def another_writer_then_insert(conn, table, columns, rows):  # type: ignore[no-untyped-def]
        if "thread" not in other:
            other["thread"] = thread = threading.Thread(target=run_other)
            thread.start()
            thread.join(2)  # returns early where a write lock makes the other writer wait
        return insert(conn, table, columns, rows)

    path = write_jsonl(tmp_path / "mine.jsonl", [record(1), record(2), record(3)])
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(writer_module, "insert_missing", another_writer_then_insert)
        mine = Ingestor(db, plain).ingest_files([path])
        other["thread"].join(60)
    assert "error" not in other, other.get("error")
    theirs = other["report"]

    assert response_ids(db) == ["r-1", "r-2", "r-3"]
    assert (mine.stored + theirs.stored, mine.duplicates + theirs.duplicates) == (3, 1)
    conflicts = [
        (who, e.location, e.field, e.record_id)
        for who, report in (("mine", mine), ("theirs", theirs))
        for e in report.errors
    ]
    assert conflicts in (
        [("mine", "line 2", "id", "r-2")],
        [("theirs", "record 2", "id", "r-2")],
    )
    kept = "Their answer." if conflicts[0][0] == "mine" else record(2)["response"]
    assert get_response(db, "r-2").response == kept


@pytest.mark.slow
def test_first_ingests_into_a_new_store_at_once_all_succeed(new_store_url, tmp_path):
    # Each worker finds no schema and migrates: they must take turns, not fail each other.
    runs = run_at_once(new_store_url, copies(tmp_path, [record(i) for i in range(300)], 4))

    assert [r.exit_code for r in runs] == [0, 0, 0, 0]
    assert sum(r.stored for r in runs) == 300
    db = Database.open(new_store_url, migrate=False)
    try:
        assert current_revision(db.engine) == head_revision()
        assert len(response_ids(db)) == 300
    finally:
        db.dispose()
