"""Connecting to the store and keeping its schema current.

``Database.open`` migrates on first use, so a user never runs a separate setup step; ``evalkit db
upgrade`` does the same explicitly for operators who prefer to migrate at deploy time.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from evalkit.errors import StoreError

try:
    import fcntl
except ImportError:  # not on Windows: there SQLite's own lock alone orders writers
    fcntl = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from evalkit.store.writer import Writer

MIGRATIONS = Path(__file__).parent / "migrations"


#: How long a SQLite writer waits for the one write lock before the store counts as locked.
SQLITE_BUSY_SECONDS = 30


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url`` with the settings evalkit relies on (FK enforcement on SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        # A URI filename (``file:...?mode=ro&uri=true``) names no plain path to create.
        if parsed.database and parsed.database != ":memory:" and not _is_uri(parsed):
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_SECONDS}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _is_uri(parsed: Any) -> bool:
    return str(parsed.query.get("uri", "")).lower() in ("true", "1") or str(
        parsed.database
    ).startswith("file:")


#: WAL size at which SQLite checkpoints (see ``_sqlite_pragmas``)
WAL_CHECKPOINT_BYTES = 64 * 1024 * 1024


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the reviewer app read while an ingest writes; foreign_keys makes purge cascade.
    # The driver's own transaction handling is off: ``_sqlite_begin`` says how each one begins.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # 16 KiB pages, set before anything creates the file (an existing store keeps its size; VACUUM
    # changes it): a response row is ~2 KiB of text, so a 4 KiB page holds one or two rows and a
    # big ingest writes, logs and checkpoints about a third more pages. Measured on 100,000 demo-
    # sized rows: 1.2 s to insert at 16 KiB against 1.6 s at 4 KiB.
    cursor.execute("PRAGMA page_size=16384")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB: index pages stay cached on big ingests
    # Checkpoint (copy the WAL into the database and fsync both) every 64 MiB of WAL rather than
    # SQLite's default 1,000 pages: a 2,000-record ingest batch writes about 4 MiB, and with the
    # default every batch paid for a checkpoint and its fsyncs. The WAL file is cut back to that
    # size afterwards, so it does not stay large.
    page_size = cursor.execute("PRAGMA page_size").fetchone()[0]
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_CHECKPOINT_BYTES // page_size}")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_CHECKPOINT_BYTES}")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # A write transaction takes the write lock up front (IMMEDIATE): a deferred one that read
    # first could not upgrade once another writer committed ("database is locked" under WAL),
    # and holding the lock means no row can appear between a lookup and the insert after it.
    write = conn.get_execution_options().get(WRITE_OPTION, False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


#: Execution option marking a connection whose transactions write.
WRITE_OPTION = "evalkit_write"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option(
        "sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%")
    )
    return cfg


def head_revision() -> str:
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "no migrations packaged"
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str:
    """Apply every pending migration (up to ``revision``: tests start from an older one);
    returns the revision the store is at afterwards."""
    cfg = alembic_config(engine)
    # A write transaction: on SQLite, two processes opening a new store migrate one after the
    # other (PostgreSQL serializes them with an advisory lock in the migration environment).
    with engine.connect() as conn:
        conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, revision)
    reached = current_revision(engine)
    assert reached is not None
    return reached


class _ProcessTurn:
    """The write turn between evalkit processes on one SQLite file: ``flock`` on a lock file
    beside it, taken before SQLite's own lock.

    SQLite makes a second process's writer sleep in its busy handler (1, 2, 5, 10 … 100 ms
    between tries), so two server workers writing small batches spent their time waiting on
    each other's already-released lock. This lock is retried every few milliseconds at most.
    Processes that are not evalkit still meet SQLite's own lock and busy timeout, as before.
    Where no lock file can be opened (no ``fcntl``, a directory that takes no file, an
    in-memory or URI store) there is no such turn and SQLite's lock alone applies.

    The file is opened at the first write, not when the store is opened (a reader leaves no
    file behind), and again after ``close`` or in a forked child: a child shares its parent's
    open file, so unlocking it there would end the parent's turn.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None
        self._pid = os.getpid()
        self._finalizer: weakref.finalize | None = None

    @classmethod
    def beside(cls, engine: Engine) -> _ProcessTurn | None:
        parsed = engine.url
        if fcntl is None or not parsed.database or parsed.database == ":memory:":
            return None
        if _is_uri(parsed):
            return None
        return cls(f"{parsed.database}-evalkit-writer.lock")

    def _file(self) -> int | None:
        if self._fd is not None and self._pid != os.getpid():  # forked: the parent's file
            if self._finalizer is not None:
                self._finalizer.detach()  # the parent's to close; the child only forgets it
            self._fd = self._finalizer = None
        if self._fd is None:
            self._pid = os.getpid()
            for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):  # flock takes either
                try:
                    self._fd = os.open(self.path, flags, 0o666)
                    break
                except OSError:
                    continue
            else:
                return None
            # A Database dropped without dispose() must not leak the descriptor.
            self._finalizer = weakref.finalize(self, os.close, self._fd)
        return self._fd

    def acquire(self, deadline: float, url: Any) -> bool:
        """Wait for the turn until ``deadline``; False when there is no file to lock."""
        assert fcntl is not None
        fd = self._file()
        if fd is None:
            return False
        pause = 0.0005
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise StoreError(
                        f"the store at {url!r} failed: database is locked (another evalkit "
                        f"writer held it for {SQLITE_BUSY_SECONDS} s)"
                    ) from None
                time.sleep(pause)
                pause = min(pause * 2, 0.004)
            except OSError:  # a file system without flock: SQLite's own lock still applies
                return False

    def release(self) -> None:
        assert fcntl is not None
        if self._fd is not None:
            with suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        if self._finalizer is not None and self._pid == os.getpid():
            self._finalizer()  # closes the descriptor (once)
        self._fd = self._finalizer = None


class Database:
    """An engine whose schema is known to be current."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # SQLite has one writer at a time. Threads of this process that want to write queue on
        # this lock instead of in SQLite's busy handler, which polls with sleeps that grow to
        # 100 ms: under 20 concurrent HTTP clients that polling, not the writes, made p99 3 s.
        # Other processes still wait in the busy handler (``timeout`` in ``make_engine``).
        self._write_lock = threading.RLock() if engine.dialect.name == "sqlite" else None
        self._write_depth = 0
        # Between processes (`evalkit serve --workers N`, an ingest beside the server), the same
        # polling would apply; a lock file beside the store makes them take turns promptly.
        self._process_turn = _ProcessTurn.beside(engine) if self._write_lock else None

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Database:
        """Connect, migrate if needed; any failure is a ``StoreError`` saying what to fix."""
        try:
            engine = make_engine(url)
        except Exception as exc:  # unusable SQLite path, malformed URL, unknown driver
            raise StoreError(f"cannot open the store at {url!r}: {exc}") from exc
        try:
            current = current_revision(engine)
            if current != head_revision():
                if not migrate:
                    raise StoreError(
                        f"the store is at revision {current}, evalkit needs {head_revision()}: "
                        "run `evalkit db upgrade`"
                    )
                upgrade(engine)
        except StoreError:
            engine.dispose()
            raise
        except Exception as exc:  # connection refused, bad credentials, failed migration
            engine.dispose()
            raise StoreError(f"cannot open the store at {engine.url!r}: {exc}") from exc
        return cls(engine)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def writer(self) -> Iterator[Writer]:
        """A unit of work: everything added commits together, or nothing does."""
        from evalkit.store.writer import Writer

        with self.transaction() as conn:
            yield Writer(conn)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A connection in a transaction that commits on success and rolls back on error."""
        with (
            self._writer_turn(),
            self._unreachable_is_store_error(),
            self.engine.connect() as conn,
        ):
            conn.execution_options(**{WRITE_OPTION: True})
            with conn.begin():
                yield conn

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """On SQLite, this process's turn to write; as long a wait as SQLite's own busy timeout
        allows another process, then the same error (the store is locked)."""
        lock = self._write_lock
        if lock is None:
            yield
            return
        deadline = time.monotonic() + SQLITE_BUSY_SECONDS
        if not lock.acquire(timeout=SQLITE_BUSY_SECONDS):
            raise StoreError(
                f"the store at {self.engine.url!r} failed: database is locked (another writer "
                f"of this process held it for {SQLITE_BUSY_SECONDS} s)"
            )
        try:
            # Under the thread lock, so only one thread at a time counts or takes the file lock.
            # The turn is taken before counting: a wait that fails leaves the depth as it was.
            turn = self._process_turn if self._write_depth == 0 else None
            if turn is not None and not turn.acquire(deadline, self.engine.url):
                turn = None
            self._write_depth += 1
            try:
                yield
            finally:
                self._write_depth -= 1
                if turn is not None:
                    turn.release()
        finally:
            lock.release()

    @contextmanager
    def reader(self) -> Iterator[Connection]:
        """A connection for the read functions of this package."""
        with self._unreachable_is_store_error(), self.engine.connect() as conn:
            yield conn

    def ping(self) -> None:
        """Raise ``StoreError`` unless the store answers a trivial query."""
        with self.reader() as conn:
            conn.execute(text("SELECT 1"))

    @contextmanager
    def _unreachable_is_store_error(self) -> Iterator[None]:
        # Lost connections, refused logins, locked SQLite files, a read-only file or failover,
        # a full disk, an exhausted pool: the store, not the data, is at fault, so callers (the
        # SDK's retry loop, HTTP 503, exit code 3) can tell them from a bad record. The bulk
        # paths (``store.bulk``) talk to the driver directly, so its own exception classes of
        # the same kinds count too, not only SQLAlchemy's wrappers of them.
        try:
            yield
        except (OperationalError, InterfaceError, InternalError, PoolTimeout) as exc:
            cause = getattr(exc, "orig", None) or exc
            raise StoreError(f"the store at {self.engine.url!r} failed: {cause}") from exc
        except Exception as exc:
            if not isinstance(exc, self._driver_store_errors):
                raise
            raise StoreError(f"the store at {self.engine.url!r} failed: {exc}") from exc

    @property
    def _driver_store_errors(self) -> tuple[type[BaseException], ...]:
        """The driver's (DB-API) classes for a failing store rather than a refused value:
        sqlite3's OperationalError is a read-only or locked file, a full disk, an I/O error;
        psycopg's are a lost connection or a read-only transaction (InternalError)."""
        dbapi = self.engine.dialect.loaded_dbapi
        names = ("OperationalError", "InterfaceError", "InternalError")
        return tuple(getattr(dbapi, name) for name in names if hasattr(dbapi, name))

    def dispose(self) -> None:
        """Close the connections (and the lock file); the store opens them again if used."""
        self.engine.dispose()
        if self._process_turn is not None:
            self._process_turn.close()
