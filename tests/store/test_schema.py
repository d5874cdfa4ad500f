"""The migrations and the table definitions describe the same schema, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from evalkit.store.database import Database, current_revision, head_revision
from evalkit.store.tables import Base


def test_migrations_match_the_models(db: Database):
    with db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_open_migrates_once_and_reopening_is_a_no_op(store_url):
    first = Database.open(store_url)
    assert current_revision(first.engine) == head_revision()
    again = Database.open(store_url)
    assert current_revision(again.engine) == head_revision()
    first.dispose()
    again.dispose()


def test_unusable_store_is_a_store_error(tmp_path):
    import pytest

    from evalkit.errors import StoreError

    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StoreError, match="cannot open the store"):
        Database.open(f"sqlite:///{blocker}/sub/evalkit.db")
    with pytest.raises(StoreError, match="cannot open the store"):
        Database.open("nosuchdriver://x/y")


def test_sqlite_pages_and_checkpoints(tmp_path):
    """A new store gets 16 KiB pages; a store made with SQLite's default 4 KiB keeps them (the
    size is fixed once the file exists) and still checkpoints every 64 MiB of WAL, not every 256."""
    import sqlite3

    from evalkit.store.database import WAL_CHECKPOINT_BYTES

    def pragmas(db: Database) -> tuple[int, int, int]:
        with db.engine.connect() as conn:
            return tuple(  # type: ignore[return-value]
                conn.exec_driver_sql(f"PRAGMA {name}").scalar_one()
                for name in ("page_size", "wal_autocheckpoint", "journal_size_limit")
            )

    new = Database.open(f"sqlite:///{tmp_path / 'new.db'}")
    assert pragmas(new) == (16384, WAL_CHECKPOINT_BYTES // 16384, WAL_CHECKPOINT_BYTES)
    new.dispose()

    old_path = tmp_path / "old.db"
    plain = sqlite3.connect(old_path)
    plain.execute("CREATE TABLE t (x)")  # the file now exists with the default page size
    plain.close()
    old = Database.open(f"sqlite:///{old_path}")
    assert pragmas(old) == (4096, WAL_CHECKPOINT_BYTES // 4096, WAL_CHECKPOINT_BYTES)
    assert current_revision(old.engine) == head_revision()
    old.dispose()


def test_a_store_made_by_the_first_release_upgrades_and_keeps_its_audit_rows(
    unmigrated_store_url,
):
    """0002 adds ``ingest_runs.status``: rows written before it read as completed runs."""
    from sqlalchemy import text

    from evalkit.store.database import make_engine, upgrade

    engine = make_engine(unmigrated_store_url)
    assert upgrade(engine, "0001") == "0001"
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ingest_runs (source, kind, started_at, finished_at, read, "
                "stored, duplicates, rejected, redactions) VALUES ('old.jsonl', 'responses', "
                "'2026-11-01 10:00:00', '2026-11-01 10:00:05', 3, 3, 0, 0, '{}')"
            )
        )
    engine.dispose()

    db = Database.open(unmigrated_store_url)
    assert current_revision(db.engine) == head_revision()
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT source, stored, status FROM ingest_runs")).all()
    assert [tuple(r) for r in rows] == [("old.jsonl", 3, "completed")]
    db.dispose()
