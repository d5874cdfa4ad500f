"""The storage-row layout the ingest hot path builds without SQLAlchemy matches the schema."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone

from evalkit.store.rows import RESPONSE_COLUMNS, json_text, json_value, response_row, time_text
from evalkit.store.tables import RESPONSES
from tests.helpers import record


def test_response_columns_are_the_tables_columns_in_order():
    assert tuple(c.name for c in RESPONSES.columns) == RESPONSE_COLUMNS


def test_a_row_holds_each_field_in_its_column():
    from evalkit.capture.validate import Limits, parse_response

    received = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    rec = parse_response(
        {**record(1), "metadata": {"big": 2**70, "nested": {"k": ["é", 1.5]}}},
        received_at=received,
        limits=Limits(1000),
    )
    row = dict(zip(RESPONSE_COLUMNS, response_row(rec), strict=True))
    assert row["id"] == "r-1" and row["content_hash"] == rec.content_hash
    assert row["received_at"] == "2026-11-02 10:00:00.000000"
    assert row["created_at"] == time_text(rec.created_at)
    assert json_value(row["metadata"]) == rec.metadata  # exact, 2**70 included
    for name in ("prompt", "response", "model_id", "latency_ms", "input_tokens", "tenant"):
        assert row[name] == getattr(rec, name)


def test_time_text_is_utc_and_sorts_as_time():
    east = timezone(timedelta(hours=5, minutes=30))
    assert time_text(datetime(2026, 1, 1, 5, 30, tzinfo=east)) == "2026-01-01 00:00:00.000000"
    assert time_text(datetime(2026, 1, 1, 0, 0, 0, 7)) == "2026-01-01 00:00:00.000007"  # naive: UTC
    stamps = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(microseconds=n) for n in (0, 9, 10)]
    texts = [time_text(s) for s in stamps]
    assert texts == sorted(texts)


def test_json_text_keeps_integers_beyond_64_bits():
    assert json_value(json_text({"n": 2**70, "s": "ü"})) == {"n": 2**70, "s": "ü"}


def test_worker_processes_import_no_sqlalchemy_or_pydantic():
    """What a spawned ingest worker imports stays light, so a large ingest starts quickly."""
    code = (
        "import sys, evalkit.capture.parallel; "
        "print(sorted(m for m in ('sqlalchemy', 'pydantic') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_rows_built_on_several_threads_keep_their_own_received_at():
    """``response_row`` caches the text of the last received_at, and threads with different
    ones (an API server, the SDK's writer) make it flip constantly: each row must still carry
    its own. (CPython seldom switches threads inside the few lines that matter, so this checks
    the cache's bookkeeping under flipping, not every possible interleaving.)"""
    import threading

    from evalkit.capture.validate import Limits, parse_response

    def build(hour: int, out: list[str]) -> None:
        received = datetime(2026, 1, 1, hour, tzinfo=UTC)
        rec = parse_response(record(hour), received_at=received, limits=Limits(1000))
        out.extend(response_row(rec)[1] for _ in range(20_000))

    results: list[list[str]] = [[], [], []]
    threads = [threading.Thread(target=build, args=(h, results[h])) for h in range(3)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as the interpreter can
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    for hour, texts in enumerate(results):
        assert set(texts) == {f"2026-01-01 {hour:02d}:00:00.000000"}
