"""Fast multi-row inserts that skip ids already present, per database.

The ingest hot path writes tens of thousands of rows a second. SQLAlchemy's generic
multi-row ``INSERT … RETURNING`` spends most of its time binding parameters in Python, and on
PostgreSQL psycopg re-parses each 20,000-parameter statement, so this module speaks to the
driver directly (SQLAlchemy's documented advice for bulk loads) while the schema stays
SQLAlchemy's:

- SQLite: ``INSERT OR IGNORE`` through ``executemany`` inside the caller's transaction, which
  ``Database`` begins with ``BEGIN IMMEDIATE``: no other writer can commit in between, so the
  rows it inserted are the ones with new rowids.
- PostgreSQL: ``COPY`` into a temporary staging table, then ``INSERT … SELECT … ON CONFLICT DO
  NOTHING RETURNING id``, which names exactly the rows inserted even when another session
  stored some of the same ids a moment earlier.
- Any other database: a look-up of the ids, then SQLAlchemy's portable insert of the rest.

Rows come in one database-neutral form, *storage rows*: tuples in column order, JSON
columns as JSON text, timestamps as UTC text in SQLAlchemy's SQLite layout
("2025-03-01 09:30:00.000000"), all made where records are prepared (``storage_rows``,
``store.rows.response_row``). SQLite stores them as they are; the other databases get
them adapted here, as SQLAlchemy's type processing is bypassed.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Connection, DateTime, String, Table, insert, select

from evalkit.store.rows import json_text, json_value, time_text

#: Columns whose Python values are JSON documents.
_JSON_TYPES = ("JSON",)


def storage_rows(
    table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> list[tuple[Any, ...]]:
    """Rows (column -> Python value) as storage rows (see the module docstring)."""
    json_at = [i for i, name in enumerate(columns) if _is_json(table, name)]
    time_at = _time_columns(table, columns)
    pick = itemgetter(*columns)
    out = []
    for row in rows:
        values = list(pick(row))
        for i in json_at:
            if values[i] is not None:
                values[i] = json_text(values[i])
        for i in time_at:
            if values[i] is not None:
                values[i] = time_text(values[i])
        out.append(tuple(values))
    return out


def _is_json(table: Table, column: str) -> bool:
    return type(table.c[column].type).__name__ in _JSON_TYPES


def _time_columns(table: Table, columns: Sequence[str]) -> list[int]:
    return [i for i, name in enumerate(columns) if isinstance(table.c[name].type, DateTime)]


def _postgresql_rows(
    table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    """Timestamp text with its UTC offset spelled out: COPY would read it in the session's
    time zone otherwise."""
    time_at = _time_columns(table, columns)
    for row in rows:
        values = list(row)
        for i in time_at:
            if values[i] is not None:
                values[i] += "+00"
        yield tuple(values)


def _generic_rows(
    table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> list[dict[str, Any]]:
    """Storage rows as SQLAlchemy parameters: JSON and timestamps parsed back for its types."""
    json_at = {i for i, name in enumerate(columns) if _is_json(table, name)}
    time_at = set(_time_columns(table, columns))

    def value(i: int, v: Any) -> Any:
        if v is None:
            return v
        if i in json_at:
            return json_value(v)
        if i in time_at:
            return datetime.fromisoformat(v).replace(tzinfo=UTC)
        return v

    return [
        {name: value(i, v) for i, (name, v) in enumerate(zip(columns, row, strict=True))}
        for row in rows
    ]


def select_by_ids(
    conn: Connection, table: Table, columns: tuple[str, str], ids: Sequence[str]
) -> dict[Any, Any]:
    """``{first column: second column}`` for the rows whose id is in ``ids``.

    The per-batch duplicate lookup; SQLAlchemy would re-render an ``IN`` of thousands of bind
    parameters for every batch, so the driver gets the statement directly.
    """
    if not ids:
        return {}
    raw = conn.connection.driver_connection
    a, b = columns
    if conn.dialect.name == "sqlite":
        marks = ", ".join("?" * len(ids))
        sql = f'SELECT "{a}", "{b}" FROM "{table.name}" WHERE id IN ({marks})'
        return dict(raw.execute(sql, tuple(ids)).fetchall())  # type: ignore[union-attr]
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(f'SELECT "{a}", "{b}" FROM "{table.name}" WHERE id = ANY(%s)', (list(ids),))
            return dict(cur.fetchall())
    stmt = select(table.c[a], table.c[b]).where(table.c.id.in_(ids))
    return {row[0]: row[1] for row in conn.execute(stmt)}


def insert_missing(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> set[str]:
    """Insert storage ``rows`` (tuples in ``columns`` order, first column ``id``, JSON as text,
    timestamps as ``datetime``), skipping every id the table holds already.

    Returns the ids actually inserted; the others were there before (the caller tells
    duplicates from conflicts). Ids must be distinct within ``rows``.
    """
    if not rows:
        return set()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return _sqlite(conn, table, columns, rows)
    if dialect == "postgresql":
        return _postgresql(conn, table, columns, rows)
    present = select_by_ids(conn, table, ("id", "id"), [row[0] for row in rows])
    fresh = [row for row in rows if row[0] not in present]
    if not fresh:
        return set()
    stmt = insert(table).returning(table.c.id)
    return set(conn.execute(stmt, _generic_rows(table, columns, fresh)).scalars())


def _sqlite(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> set[str]:
    """``INSERT OR IGNORE`` in one ``executemany``; which rows went in is read off the rowids.

    The caller's transaction began with ``BEGIN IMMEDIATE`` (``Database.writer``), so nobody
    else writes in between: if fewer rows changed than were given, the ones inserted are
    exactly those with a rowid above the largest before the statement.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    (last_rowid,) = raw.execute(f'SELECT coalesce(max(rowid), 0) FROM "{table.name}"').fetchone()
    before = raw.total_changes
    raw.executemany(f'INSERT OR IGNORE INTO "{table.name}" ({names}) VALUES ({marks})', rows)
    if raw.total_changes - before == len(rows):
        return {row[0] for row in rows}
    cursor = raw.execute(f'SELECT id FROM "{table.name}" WHERE rowid > ?', (last_rowid,))
    return {rid for (rid,) in cursor}


#: Up to this many rows, PostgreSQL gets one ``INSERT … SELECT FROM jsonb_array_elements(…)``
#: statement; above it, ``COPY`` into a staging table. See ``_postgresql_json``.
SINGLE_STATEMENT_MAX_ROWS = 1000


def _postgresql(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> set[str]:
    if len(rows) <= SINGLE_STATEMENT_MAX_ROWS:
        return _postgresql_json(conn, table, columns, rows)
    return _postgresql_copy(conn, table, columns, rows)


def _postgresql_json(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> set[str]:
    """One statement, one round trip: the rows as one JSON array of arrays, unpacked by SQL.

    An HTTP or SDK batch is tens to hundreds of rows, where the staging table's three round
    trips (create if missing, ``COPY``, insert from it) cost more than the rows: with 20
    concurrent clients posting 100 records (``benchmarks/http_ingest.py``) most of a
    request's time in the store was spent waiting on them. Column arrays (``unnest``) were
    tried too: psycopg adapts lists element by element in Python, which then took a third of
    the server's CPU; one JSON document is encoded by orjson in C. Text comes out of the
    document as text and the other columns are cast to their types; the insert's own
    assignment checks column lengths (an explicit ``varchar(n)`` cast would truncate). The
    statement depends only on the column list, so psycopg prepares it once per connection.
    """
    raw = conn.connection.driver_connection
    assert raw is not None
    document = orjson.dumps(list(_postgresql_rows(table, columns, rows))).decode()
    with raw.cursor() as cur:
        cur.execute(_json_insert(table, tuple(columns), conn.dialect), (document,))
        return {r[0] for r in cur.fetchall()}


@functools.lru_cache(maxsize=64)
def _json_insert(table: Table, columns: tuple[str, ...], dialect: Any) -> str:
    """The statement of ``_postgresql_json`` for one column list (built once: it is on the
    path of every HTTP batch). In id order (the first column), for the reason given in
    ``_postgresql_copy``."""
    names = ", ".join(f'"{c}"' for c in columns)
    picks = ", ".join(f"(e->>{i}){_cast(table, c, dialect)}" for i, c in enumerate(columns))
    return (
        f'INSERT INTO "{table.name}" ({names}) SELECT {picks} '
        "FROM jsonb_array_elements(%s::jsonb) AS e "
        "ORDER BY 1 ON CONFLICT (id) DO NOTHING RETURNING id"
    )


def _cast(table: Table, column: str, dialect: Any) -> str:
    """The cast from a JSON element's text to ``column``'s type; none for text columns."""
    kind = table.c[column].type
    if isinstance(kind, String):  # VARCHAR(n) and TEXT: the insert checks the length
        return ""
    return f"::{kind.compile(dialect=dialect)}"


def _postgresql_copy(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> set[str]:
    raw = conn.connection.driver_connection
    assert raw is not None
    names = ", ".join(f'"{c}"' for c in columns)
    # One staging table per session and column list, kept (emptied at each commit) rather than
    # created and dropped in every transaction: per HTTP batch of 100 rows the create/drop was
    # catalog churn costing PostgreSQL more CPU than the rows themselves. The column list is in
    # its name, so a schema that gained a column gets a table of its own.
    digest = hashlib.sha1(f"{table.name}:{names}".encode()).hexdigest()[:10]
    stage = f"_evalkit_stage_{table.name}_{digest}"
    with raw.cursor() as cur:
        cur.execute(
            f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" '
            f'(LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DELETE ROWS'
        )
        with cur.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
            for row in _postgresql_rows(table, columns, rows):
                copy.write_row(row)
        # In id order: two batches inserting some of the same ids then wait for each other in
        # one direction only, never in a cycle (a deadlock PostgreSQL would break by failing one).
        # Emptied right after, in the same round trip: a second batch in this transaction
        # stages only its own rows.
        cur.execute(
            f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{stage}" '
            f'ORDER BY id ON CONFLICT (id) DO NOTHING RETURNING id; TRUNCATE "{stage}"'
        )
        inserted = {r[0] for r in cur.fetchall()}
    return inserted
