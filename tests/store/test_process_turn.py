"""SQLite writers of different evalkit processes take turns on a lock file beside the store."""

from __future__ import annotations

import fcntl
import os
import threading
import time

import pytest

from evalkit.errors import StoreError
from evalkit.store import database
from evalkit.store.database import Database
from evalkit.store.queries import count_responses
from tests.helpers import record


def _ingest_one(db: Database, i: int) -> None:
    from evalkit.capture.ingest import Ingestor
    from evalkit.settings import Settings

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    Ingestor(db, settings).ingest_records([record(i)])


@pytest.fixture
def store(tmp_path):
    db = Database.open(f"sqlite:///{tmp_path / 'evalkit.db'}")
    yield db, tmp_path / "evalkit.db-evalkit-writer.lock"
    db.dispose()


def _waits_for_the_turn(db: Database, lock_path, i: int) -> None:
    """A write of record ``i`` waits while another process holds the turn, then is stored."""
    before = count_responses(db)
    # Another process's turn: an open file description of its own holding the lock.
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    done = threading.Event()
    writer = threading.Thread(target=lambda: (_ingest_one(db, i), done.set()))
    writer.start()
    try:
        assert not done.wait(0.5), "wrote while another process held the turn"
        assert count_responses(db) == before
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
    assert done.wait(10)
    writer.join()
    assert count_responses(db) == before + 1


def test_a_writer_waits_for_another_process_turn_then_writes(store):
    db, lock_path = store
    assert not lock_path.exists(), "opening (and reading) the store leaves no lock file"
    _ingest_one(db, 0)
    assert lock_path.exists()
    _waits_for_the_turn(db, lock_path, 1)
    # The turn was given back: another process can take it at once.
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)


def test_a_turn_held_too_long_is_a_store_error_saying_so(store, monkeypatch):
    db, lock_path = store
    monkeypatch.setattr(database, "SQLITE_BUSY_SECONDS", 0.3)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        started = time.monotonic()
        with pytest.raises(StoreError, match="another evalkit writer held it"):
            _ingest_one(db, 2)
        assert time.monotonic() - started < 5
    finally:
        os.close(fd)
    _ingest_one(db, 3)  # and the store works once the turn is free
    assert count_responses(db) == 1
    # The failed wait did not leave the store thinking it is inside a write: it still waits.
    monkeypatch.setattr(database, "SQLITE_BUSY_SECONDS", 30)
    _waits_for_the_turn(db, lock_path, 5)


def test_a_disposed_store_takes_turns_again_when_used(store):
    db, lock_path = store
    _ingest_one(db, 0)
    db.dispose()
    _waits_for_the_turn(db, lock_path, 1)


def test_stores_dropped_without_dispose_leave_no_open_files(tmp_path):
    import gc

    def open_files() -> int:
        return len(os.listdir("/proc/self/fd"))

    url = f"sqlite:///{tmp_path / 'evalkit.db'}"
    Database.open(url).dispose()
    before = open_files()
    for i in range(30):
        db = Database.open(url)
        _ingest_one(db, i)
        db.engine.dispose()  # the connections, but not the store object itself
        del db
    gc.collect()
    assert open_files() - before < 5


def test_a_store_where_no_lock_file_can_be_made_still_writes(tmp_path):
    # A directory in the lock file's place: no process (not even root) can open it as a file.
    (tmp_path / "evalkit.db-evalkit-writer.lock").mkdir()
    db = Database.open(f"sqlite:///{tmp_path / 'evalkit.db'}")
    try:
        _ingest_one(db, 4)
        assert count_responses(db) == 1
    finally:
        db.dispose()
