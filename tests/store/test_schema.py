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
