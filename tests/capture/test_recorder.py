"""The SDK recorder against real stores: what a service relies on when it records in-process."""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from evalkit import Recorder
from evalkit.records import FeedbackKind, RecordError
from evalkit.store.database import Database
from evalkit.store.queries import count_responses, feedback_for, get_response, response_ids
from tests.conftest import PG_URL

#: Nothing listens on port 1: connections are refused at once, like a database that is down.
UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:1/none"
PYTHON = Path(sys.executable)


@pytest.fixture
def recorders() -> Iterator[Callable[..., Recorder]]:
    """Build Recorders that are closed (briefly) after the test, whatever it did."""
    made: list[Recorder] = []

    def make(*args: object, **kwargs: object) -> Recorder:
        recorder = Recorder(*args, **kwargs)  # type: ignore[arg-type]
        made.append(recorder)
        return recorder

    yield make
    for recorder in made:
        recorder.close(timeout=0.2)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_records_and_feedback_are_stored_and_readable(db, settings, recorders):
    rec = recorders(settings, flush_interval=60)  # only flush() writes
    before = datetime.now(UTC)
    rid = rec.record(
        prompt="How long do refunds take?",
        response="Thirty days; write to help@shop.example.com.",
        model_id="gpt-big",
        latency_ms=812.5,
        tenant="acme",
        channel="web",
    )
    after = datetime.now(UTC)
    mine = rec.record(id="mine-1", response="Second answer.", output_tokens=7)
    rec.feedback(rid, "rating", "up")
    rec.feedback(rid, FeedbackKind.CORRECTION, "It is 30 days, mail me at a@b.example.com")
    rec.feedback(mine, "outcome", "Resolved", source="widget")

    assert rec.flush(timeout=30)
    assert uuid.UUID(rid).version == 4 and mine == "mine-1"
    stored = get_response(db, rid)
    assert stored is not None
    assert (stored.prompt, stored.model_id, stored.latency_ms, stored.tenant) == (
        "How long do refunds take?",
        "gpt-big",
        812.5,
        "acme",
    )
    assert stored.response == "Thirty days; write to [EMAIL]."  # same redaction as file ingest
    assert stored.metadata == {"channel": "web"}
    assert before <= stored.created_at <= after  # the time of the call, not of the write
    assert get_response(db, "mine-1").output_tokens == 7
    # The feedback went in the same drain as its response: written after it, so not "unknown".
    events = feedback_for(db, rid)
    assert sorted((e.kind, e.value) for e in events) == [
        (FeedbackKind.CORRECTION, "It is 30 days, mail me at [EMAIL]"),
        (FeedbackKind.RATING, "up"),
    ]
    assert [(e.value, e.source) for e in feedback_for(db, "mine-1")] == [("resolved", "widget")]
    stats = rec.stats
    assert (stats.queued, stats.written, stats.rejected, stats.dropped) == (5, 5, 0, 0)


def test_python_values_in_extra_fields_are_stored_as_text(db, settings, recorders):
    rec = recorders(settings, flush_interval=60)
    rid = rec.record(
        response="ok",
        requested_at=datetime(2026, 11, 1, 10, 0, tzinfo=UTC),
        price=Decimal("1.50"),
        tags={"b"},
        score=float("nan"),
        metadata={"nested": {"when": datetime(2026, 1, 2, tzinfo=UTC)}},
    )
    assert rec.flush(timeout=30)
    assert rec.stats.rejected == 0
    assert get_response(db, rid).metadata == {
        "requested_at": "2026-11-01T10:00:00+00:00",
        "price": "1.50",
        "tags": ["b"],
        "score": "nan",
        "nested": {"when": "2026-01-02T00:00:00+00:00"},
    }


def test_record_returns_at_once_and_never_raises_while_the_store_is_down(
    sqlite_settings, recorders
):
    rec = recorders(sqlite_settings, database_url=UNREACHABLE)
    started = time.perf_counter()
    ids = [
        rec.record(prompt="q", response=f"answer {i}", model_id="m", latency_ms=i)
        for i in range(1000)
    ]
    elapsed = time.perf_counter() - started

    assert elapsed < 0.5, f"1000 record() calls took {elapsed:.3f} s with the store down"
    assert len(set(ids)) == 1000
    assert rec.flush(timeout=0.5) is False
    assert wait_for(lambda: rec.stats.write_failures > 0)
    stats = rec.stats
    assert (stats.queued, stats.written, stats.dropped) == (1000, 0, 0)
    assert "127.0.0.1" in (stats.last_error or "") or "connection" in (stats.last_error or "")
    rec.close(timeout=0.2)
    assert rec.stats.dropped == 1000  # given up at close, and counted before close returned


@pytest.fixture
def hung_server() -> Iterator[socket.socket]:
    """A "database" that accepts TCP connections and never answers, like a hung server.

    Closing the listening socket resets the connections waiting on it, which frees the writer.
    """
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


def test_a_full_queue_drops_and_counts_without_raising(sqlite_settings, hung_server, caplog):
    port = hung_server.getsockname()[1]
    rec = Recorder(
        sqlite_settings,
        database_url=f"postgresql+psycopg://nobody@127.0.0.1:{port}/none",
        max_queue=10,
        flush_interval=60,
    )
    rec.record(response="first")
    assert rec.flush(timeout=0.2) is False  # the writer took it and now hangs connecting
    with caplog.at_level(logging.WARNING, logger="evalkit.recorder"):
        started = time.perf_counter()
        for i in range(100):
            rec.record(response=f"answer {i}")
        elapsed = time.perf_counter() - started
    assert elapsed < 0.5, f"100 record() calls took {elapsed:.3f} s with the queue full"
    stats = rec.stats
    assert (stats.queued, stats.dropped, stats.written) == (11, 90, 0)
    warnings = [r.getMessage() for r in caplog.records if r.name == "evalkit.recorder"]
    assert len([m for m in warnings if "queue is full" in m]) == 1  # rate-limited, not per record

    rec.close(timeout=0.1)  # still hung: close gives up on the 11 waiting records
    hung_server.close()
    assert wait_for(lambda: rec.stats.dropped == 101)


def test_invalid_records_are_rejected_alone_and_reported(db, settings, recorders, caplog):
    errors: list[RecordError] = []

    def on_error(error: RecordError) -> None:
        errors.append(error)
        raise RuntimeError("a broken callback must not stop the writer")

    rec = recorders(settings, flush_interval=60, on_error=on_error)
    good = rec.record(response="fine")
    bad = rec.record(response=123)
    rec.feedback("no-such-response", "rating", "up")
    also_good = rec.record(response="also fine")
    with caplog.at_level(logging.WARNING, logger="evalkit.recorder"):
        assert rec.flush(timeout=30)

    assert get_response(db, good) is not None and get_response(db, also_good) is not None
    assert get_response(db, bad) is None
    assert rec.stats.rejected == 2 and rec.stats.written == 2
    by_field = {e.field: e for e in errors}
    assert set(by_field) == {"response", "response_id"}
    assert by_field["response"].record_id == bad
    assert by_field["response"].location == "record()"
    assert by_field["response"].message == "expected text, got an integer"
    assert "'no-such-response'" in by_field["response_id"].message
    assert any(
        "rejected" in r.getMessage() and "response" in r.getMessage() for r in caplog.records
    )
    # The callback raised; the writer is still alive.
    later = rec.record(response="after the broken callback")
    assert rec.flush(timeout=30) and get_response(db, later) is not None


def test_a_record_no_store_can_hold_fails_alone(db, settings, recorders):
    """NUL characters: PostgreSQL refuses them, so validation turns them away on both stores."""
    errors: list[RecordError] = []
    rec = recorders(settings, flush_interval=60, on_error=errors.append)
    before = rec.record(response="before")
    nul = rec.record(response="a\x00b")
    after = rec.record(response="after")
    assert rec.flush(timeout=30)
    assert get_response(db, before) is not None and get_response(db, after) is not None
    assert get_response(db, nul) is None
    assert rec.stats.rejected == 1 and rec.stats.write_failures == 0
    assert errors[0].record_id == nul and "NUL" in errors[0].message


def test_concurrent_callers_each_record_stored_exactly_once(db, settings, recorders):
    rec = recorders(settings, flush_interval=0.05, max_batch=100)
    start = threading.Barrier(8)
    returned: list[list[str]] = [[] for _ in range(8)]

    def worker(n: int) -> None:
        start.wait()
        for i in range(200):
            returned[n].append(rec.record(prompt=f"t{n}", response=f"answer {n}-{i}"))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert rec.flush(timeout=60)
    ids = [rid for chunk in returned for rid in chunk]
    assert len(set(ids)) == 1600
    assert count_responses(db) == 1600 and set(response_ids(db)) == set(ids)
    stats = rec.stats
    assert (stats.queued, stats.written, stats.duplicates, stats.dropped) == (1600, 1600, 0, 0)


def test_close_writes_what_is_pending_then_drops_later_records(db, settings, recorders):
    rec = recorders(settings, flush_interval=60)
    ids = [rec.record(response=f"answer {i}") for i in range(20)]
    rec.close()
    assert count_responses(db) == 20 and set(response_ids(db)) == set(ids)

    late = rec.record(response="too late")
    rec.feedback(ids[0], "rating", "up")
    rec.close()  # idempotent
    assert isinstance(late, str) and late
    assert rec.stats.dropped == 2 and count_responses(db) == 20
    assert feedback_for(db, ids[0]) == []


def test_context_manager_closes_and_writes(db, settings):
    with Recorder(settings, flush_interval=60) as rec:
        rid = rec.record(response="inside the block")
    assert get_response(db, rid) is not None


def test_pending_records_are_written_at_interpreter_exit(tmp_path):
    db_file = tmp_path / "exit.db"
    script = textwrap.dedent(
        """
        from evalkit import Recorder
        rec = Recorder(flush_interval=60)  # the timer never fires: only the exit hook writes
        for i in range(50):
            rec.record(prompt="q", response=f"answer {i}")
        """
    )
    env = {
        **os.environ,
        "EVALKIT_DATABASE_URL": f"sqlite:///{db_file}",
        "EVALKIT_DATA_DIR": str(tmp_path / "data"),
    }
    done = subprocess.run(
        [str(PYTHON), "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    db = Database.open(f"sqlite:///{db_file}")
    try:
        assert count_responses(db) == 50
    finally:
        db.dispose()


def test_a_forked_child_records_with_its_own_writer(tmp_path):
    url = f"sqlite:///{tmp_path / 'fork.db'}"
    script = textwrap.dedent(
        f"""
        import os, sys
        from evalkit import Recorder
        rec = Recorder(database_url={url!r}, flush_interval=60)
        rec.record(id="parent-1", response="p")
        assert rec.flush(timeout=30)  # the parent's writer thread is running
        pid = os.fork()
        if pid == 0:
            rec.record(id="child-1", response="c")
            os._exit(0 if rec.flush(timeout=30) and rec.stats.written == 1 else 3)
        _, status = os.waitpid(pid, 0)
        rec.record(id="parent-2", response="p2")
        rec.close()
        sys.exit(os.waitstatus_to_exitcode(status))
        """
    )
    env = {**os.environ, "EVALKIT_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run(
        [str(PYTHON), "-c", script],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    db = Database.open(url)
    try:
        assert response_ids(db) == ["child-1", "parent-1", "parent-2"]
    finally:
        db.dispose()


def test_records_wait_out_a_store_that_cannot_be_opened_and_are_written_once_it_can(
    sqlite_settings, recorders, tmp_path
):
    # The store's directory is blocked by a file, so opening it fails until the file is removed.
    blocker = tmp_path / "store"
    blocker.write_text("not a directory")
    url = f"sqlite:///{blocker / 'evalkit.db'}"
    rec = recorders(sqlite_settings, database_url=url, flush_interval=60)
    ids = [rec.record(response=f"answer {i}") for i in range(5)]
    rec.feedback(ids[0], "rating", "down")

    assert rec.flush(timeout=0.3) is False
    assert wait_for(lambda: rec.stats.write_failures >= 1)
    assert rec.stats.written == 0

    blocker.unlink()
    assert rec.flush(timeout=30)
    stats = rec.stats
    assert (stats.written, stats.dropped, stats.rejected) == (6, 0, 0)
    db = Database.open(url)
    try:
        assert set(response_ids(db)) == set(ids)
        assert [e.value for e in feedback_for(db, ids[0])] == ["down"]
    finally:
        db.dispose()


# Needs a server whose connections can be cut and refused: PostgreSQL only.
@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)
def test_writes_resume_after_the_database_goes_away_mid_stream(db, settings, recorders):
    rec = recorders(settings, flush_interval=60)
    first = rec.record(response="before the outage")
    assert rec.flush(timeout=30)  # the writer has an open, working store

    # The outage: every connection to the test database is cut and new ones are refused.
    name = db.engine.url.database
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
        during = [rec.record(response=f"during the outage {i}") for i in range(5)]
        rec.feedback(first, "rating", "up")
        assert rec.flush(timeout=0.5) is False
        assert wait_for(lambda: rec.stats.write_failures >= 1)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()

    assert rec.flush(timeout=30)
    assert all(get_response(db, rid) is not None for rid in during)
    assert [e.value for e in feedback_for(db, first)] == ["up"]
    stats = rec.stats
    assert (stats.written, stats.rejected, stats.dropped) == (7, 0, 0)


def test_constructing_with_an_impossible_setting_is_a_usage_error(sqlite_settings):
    from evalkit.errors import UsageError

    with pytest.raises(UsageError, match="max_batch"):
        Recorder(sqlite_settings, max_batch=0)
    with pytest.raises(UsageError, match="flush_interval"):
        Recorder(sqlite_settings, flush_interval=0)
