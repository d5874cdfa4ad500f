"""``store.bulk.insert_missing`` on both stores: exactly the rows it inserted come back, also
for a second batch in the same transaction and after a rolled-back one; on PostgreSQL the
staging table is the session's, not created and dropped per transaction (catalog churn)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from evalkit.records import ResponseRecord
from evalkit.store.bulk import insert_missing
from evalkit.store.rows import RESPONSE_COLUMNS, response_row
from evalkit.store.tables import RESPONSES

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def rows(*numbers: int) -> list[tuple]:
    return [
        response_row(
            ResponseRecord(
                id=f"b-{i}",
                received_at=T0,
                created_at=T0,
                response=f"answer {i}",
                content_hash=f"{i}",
            )
        )
        for i in numbers
    ]


def stored(db) -> set[str]:
    with db.engine.connect() as conn:
        return set(conn.execute(text("SELECT id FROM responses")).scalars())


def test_batches_in_one_transaction_report_only_their_own_rows(db):
    with db.transaction() as conn:
        assert insert_missing(conn, RESPONSES, RESPONSE_COLUMNS, rows(1, 2, 3)) == {
            "b-1", "b-2", "b-3"
        }  # fmt: skip
        # The first batch's rows are not staged again: only b-4 is new.
        assert insert_missing(conn, RESPONSES, RESPONSE_COLUMNS, rows(3, 4)) == {"b-4"}
    assert stored(db) == {"b-1", "b-2", "b-3", "b-4"}


def test_a_rolled_back_batch_leaves_nothing_and_the_next_one_works(db):
    with pytest.raises(RuntimeError), db.transaction() as conn:
        insert_missing(conn, RESPONSES, RESPONSE_COLUMNS, rows(1, 2))
        raise RuntimeError("the caller failed after staging")
    assert stored(db) == set()
    with db.transaction() as conn:
        assert insert_missing(conn, RESPONSES, RESPONSE_COLUMNS, rows(2, 5)) == {"b-2", "b-5"}
    assert stored(db) == {"b-2", "b-5"}


@pytest.mark.postgres
def test_postgres_keeps_one_staging_table_per_session(_pg_database):
    db = _pg_database
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE responses CASCADE"))
    stage = text("SELECT oid FROM pg_class WHERE relname LIKE '\\_evalkit\\_stage\\_%'")
    seen = set()
    with db.engine.connect() as conn:
        for n in range(4):
            with conn.begin():
                assert insert_missing(conn, RESPONSES, RESPONSE_COLUMNS, rows(10 + n)) == {
                    f"b-{10 + n}"
                }
            # The same table after every commit, emptied, not dropped and created again.
            seen.update(conn.execute(stage).scalars())
            conn.rollback()
    assert len(seen) == 1
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE responses CASCADE"))
