"""Fast multi-row inserts that skip ids already present, per database.

The ingest hot path writes tens of thousands of rows a second. SQLAlchemy's generic
multi-row ``INSERT … RETURNING`` spends most of its time binding parameters in Python, and on
PostgreSQL psycopg re-parses each 20,000-parameter statement, so this module speaks to the
driver directly (SQLAlchemy's documented advice for bulk loads) while the schema stays
SQLAlchemy's:

- SQLite: ``INSERT OR IGNORE`` through ``executemany`` inside the caller's transaction, which
  ``Database`` begins with ``BEGIN IMMEDIATE``: no other writer can commit in between, so every
  row counted by ``total_changes`` is one of ours.
- PostgreSQL: ``COPY`` into a temporary staging table, then ``INSERT … SELECT … ON CONFLICT DO
  NOTHING RETURNING id``, which names exactly the rows inserted even when another session
  stored some of the same ids a moment earlier.
- Any other database: SQLAlchemy's portable insert.

Values must be in storage form already (see ``storage_rows``), as SQLAlchemy's type
processing is bypassed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Connection, Table, insert, select

#: Columns whose Python values are JSON documents.
_JSON_TYPES = ("JSON",)


def storage_rows(
    table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]], dialect: str
) -> list[tuple[Any, ...]]:
    """Rows (column -> Python value) as driver-ready tuples in ``columns`` order.

    Only JSON and timestamp columns need converting (what SQLAlchemy's types would do); the
    others are passed as they are, which keeps this loop cheap.
    """
    types = {c.name: type(c.type).__name__ for c in table.columns}
    convert: list[tuple[int, Callable[[Any], Any]]] = []
    for i, name in enumerate(columns):
        if types[name] in _JSON_TYPES:
            convert.append((i, _json_text))
        elif types[name] == "DateTime":
            convert.append((i, _sqlite_time if dialect == "sqlite" else _utc))
    pick = itemgetter(*columns)
    out = []
    for row in rows:
        values = list(pick(row))
        for i, fn in convert:
            if values[i] is not None:
                values[i] = fn(values[i])
        out.append(tuple(values))
    return out


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo is not None else value


@lru_cache(maxsize=4096)  # every row of an ingest shares its received_at
def _sqlite_time(value: datetime) -> str:
    # SQLAlchemy's SQLite DateTime storage format; UTC by evalkit's convention.
    return _utc(value).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits
        import json

        return json.dumps(value)


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
    """Insert ``rows`` (tuples in ``columns`` order, first column ``id``) whose id is absent.

    Returns the ids actually inserted.
    """
    if not rows:
        return set()
    dialect = conn.dialect.name
    if dialect == "sqlite":
        return _sqlite(conn, table, columns, rows)
    if dialect == "postgresql":
        return _postgresql(conn, table, columns, rows)
    stmt = insert(table).returning(table.c.id)
    return set(conn.execute(stmt, [dict(zip(columns, row, strict=True)) for row in rows]).scalars())


def _sqlite(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> set[str]:
    raw = conn.connection.driver_connection
    assert raw is not None
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join("?" * len(columns))
    before = raw.total_changes
    raw.executemany(f'INSERT OR IGNORE INTO "{table.name}" ({names}) VALUES ({marks})', rows)
    if raw.total_changes - before == len(rows):
        return {row[0] for row in rows}
    # Only possible if the caller's transaction was not BEGIN IMMEDIATE: ask what is ours.
    ids = [row[0] for row in rows]
    present = set(conn.execute(select(table.c.id).where(table.c.id.in_(ids))).scalars())
    return present & set(ids)


def _postgresql(
    conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> set[str]:
    raw = conn.connection.driver_connection
    assert raw is not None
    stage = f"_evalkit_stage_{table.name}"
    names = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cur:
        cur.execute(
            f'CREATE TEMP TABLE IF NOT EXISTS "{stage}" '
            f'(LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP'
        )
        with cur.copy(f'COPY "{stage}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
        cur.execute(
            f'INSERT INTO "{table.name}" ({names}) SELECT {names} FROM "{stage}" '
            "ON CONFLICT (id) DO NOTHING RETURNING id"
        )
        inserted = {r[0] for r in cur.fetchall()}
        cur.execute(f'TRUNCATE "{stage}"')
    return inserted
