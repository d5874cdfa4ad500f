"""Shared fixtures: real stores (SQLite file and a throwaway PostgreSQL database).

PostgreSQL tests use the server at ``EVALKIT_TEST_POSTGRES_URL`` (default: the local one at
127.0.0.1:5432). Each pytest worker creates its own database and drops it at the end; tables are
emptied between tests. Without a server the tests skip with the reason, except when
``EVALKIT_REQUIRE_SERVICES=1`` (CI), where a missing service is a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.store.tables import Base

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("DEEPEVAL_TELEMETRY_OPT_OUT", "YES")
# `evalkit demo` would otherwise end by serving until Ctrl-C; tests that serve say so.
os.environ.setdefault("EVALKIT_DEMO_SERVE", "0")

PG_URL = os.environ.get(
    "EVALKIT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REQUIRE_SERVICES = os.environ.get("EVALKIT_REQUIRE_SERVICES") == "1"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def require_service(reason: str) -> None:
    """Skip for a user without the service; fail in CI, where every service must be there."""
    if REQUIRE_SERVICES:
        pytest.fail(f"EVALKIT_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this worker, dropped at the end of the session."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        require_service(
            f"no PostgreSQL at {PG_URL} ({type(exc).__name__}: {str(exc).splitlines()[0]})"
        )
    name = f"evalkit_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def _pg_database(pg_server_url: str) -> Iterator[Database]:
    db = Database.open(pg_server_url)
    yield db
    db.dispose()


def _empty(db: Database) -> None:
    with db.engine.begin() as conn:
        if db.dialect == "postgresql":
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty, migrated store: a SQLite file, then PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'evalkit.db'}"
        return
    db: Database = request.getfixturevalue("_pg_database")
    _empty(db)
    yield db.engine.url.render_as_string(hide_password=False)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def unmigrated_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a store with no schema at all (a new PostgreSQL database per test, dropped
    afterwards), for tests of migrations from an older revision."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'unmigrated.db'}"
        return
    server = make_url(request.getfixturevalue("pg_server_url"))
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    name = f"evalkit_mig_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def db(store_url: str) -> Iterator[Database]:
    database = Database.open(store_url)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, store_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=store_url, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings for tests that only need the embedded default store."""
    return Settings(data_dir=tmp_path / "data", _env_file=None)  # type: ignore[call-arg]


def shared_dataset(name: str) -> Path:
    path = DATASETS / name
    if not path.exists():
        require_service(f"{path} is absent: the shared datasets live beside the project root")
    return path
