"""``store.bulk.insert_missing`` on both stores: exactly the rows it inserted come back, also
for a second batch in the same transaction and after a rolled-back one. PostgreSQL has two
ways in, both run here: small batches as one ``INSERT … SELECT FROM jsonb_array_elements``,
large ones by ``COPY`` into a staging table that is the session's, not created and dropped
per transaction (catalog churn); both store every value exactly as the other does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from evalkit.records import ResponseRecord
from evalkit.store import bulk
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


@pytest.fixture(params=["single", "copy"])
def pg_path(request, monkeypatch) -> str:
    """Which PostgreSQL path ``insert_missing`` takes (SQLite has one; it runs both times)."""
    if request.param == "copy":
        monkeypatch.setattr(bulk, "SINGLE_STATEMENT_MAX_ROWS", 0)
    return request.param


def stored(db) -> set[str]:
    with db.engine.connect() as conn:
        return set(conn.execute(text("SELECT id FROM responses")).scalars())


def test_batches_in_one_transaction_report_only_their_own_rows(db, pg_path):
    with db.transaction() as conn:
        assert insert_missing(conn, RESPONSES, RESPONSE_COLUMNS, rows(1, 2, 3)) == {
            "b-1", "b-2", "b-3"
        }  # fmt: skip
        # The first batch's rows are not staged again: only b-4 is new.
        assert insert_missing(conn, RESPONSES, RESPONSE_COLUMNS, rows(3, 4)) == {"b-4"}
    assert stored(db) == {"b-1", "b-2", "b-3", "b-4"}


def test_a_rolled_back_batch_leaves_nothing_and_the_next_one_works(db, pg_path):
    with pytest.raises(RuntimeError), db.transaction() as conn:
        insert_missing(conn, RESPONSES, RESPONSE_COLUMNS, rows(1, 2))
        raise RuntimeError("the caller failed after staging")
    assert stored(db) == set()
    with db.transaction() as conn:
        assert insert_missing(conn, RESPONSES, RESPONSE_COLUMNS, rows(2, 5)) == {"b-2", "b-5"}
    assert stored(db) == {"b-2", "b-5"}


@pytest.mark.postgres
def test_postgres_keeps_one_staging_table_per_session(_pg_database, monkeypatch):
    monkeypatch.setattr(bulk, "SINGLE_STATEMENT_MAX_ROWS", 0)  # only the COPY path stages rows
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


def full_row(i: int) -> tuple:
    """A row with every kind of value a column holds: JSON with non-ASCII text, quotes and
    nesting, floats, integers, NULLs, microsecond timestamps, text with tabs and newlines."""
    return response_row(
        ResponseRecord(
            id=f"f-{i}",
            received_at=datetime(2026, 11, 2, 9, 30, 0, 123456, tzinfo=UTC),
            created_at=T0,
            tenant="acme" if i % 2 else None,
            model_id="m\t1",
            prompt='say "hi"\nthen {stop}',
            context=None,
            response="Ünïcode, tab\tand \\ backslash",
            latency_ms=0.1 + i,
            input_tokens=i,
            output_tokens=None,
            cost=1e-05,
            confidence=1.0,
            metadata={"nested": {"list": [1, "two", None]}, "quote": 'a "b"', "é": True},
            content_hash=f"h{i}",
        )
    )


@pytest.mark.postgres
def test_postgres_paths_store_the_same_values(_pg_database, monkeypatch):
    db = _pg_database
    got = {}
    for path, limit in (("single", 1000), ("copy", 0)):
        monkeypatch.setattr(bulk, "SINGLE_STATEMENT_MAX_ROWS", limit)
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE responses CASCADE"))
        with db.transaction() as conn:
            insert_missing(conn, RESPONSES, RESPONSE_COLUMNS, [full_row(1), full_row(2)])
        with db.engine.connect() as conn:
            got[path] = conn.execute(text("SELECT * FROM responses ORDER BY id")).all()
    assert got["single"] == got["copy"]
    first = got["single"][0]._mapping
    assert first["metadata"] == {"nested": {"list": [1, "two", None]}, "quote": 'a "b"', "é": True}
    assert first["received_at"] == datetime(2026, 11, 2, 9, 30, 0, 123456, tzinfo=UTC)
    assert (first["cost"], first["output_tokens"], first["tenant"]) == (1e-05, None, "acme")
    assert first["prompt"] == 'say "hi"\nthen {stop}'
    with db.engine.begin() as conn:
        conn.execute(text("TRUNCATE responses CASCADE"))
