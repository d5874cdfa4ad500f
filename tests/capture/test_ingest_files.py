"""Ingest from files into both stores: storing, de-duplication, conflicts, bad input."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pandas as pd
import pytest

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.capture.mapping import parse_mapping
from evalkit.errors import UsageError
from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.store.queries import count_responses, get_response, response_ids
from tests.helpers import record, write_jsonl


def ingest(db: Database, settings: Settings, *paths: Path, **options) -> object:
    return Ingestor(db, settings, IngestOptions(**options)).ingest_files(list(paths))


def test_jsonl_records_are_stored_with_every_field(db, settings, tmp_path):
    rows = [record(i, metadata={"channel": "web"}, extra_field="kept") for i in range(5)]
    rows[0]["outcome"] = "converted"
    report = ingest(db, settings, write_jsonl(tmp_path / "a.jsonl", rows))

    assert (report.read, report.stored, report.duplicates, report.errors) == (5, 5, 0, [])
    stored = get_response(db, "r-0")
    assert stored is not None
    assert stored.model_id == "gpt-big"
    assert (
        stored.latency_ms == 100.0 and stored.input_tokens == 10 and stored.outcome == "converted"
    )
    assert stored.created_at.isoformat() == "2026-11-01T10:00:00+00:00"
    assert stored.received_at.tzinfo is not None
    assert stored.metadata == {"channel": "web", "extra_field": "kept"}
    assert len(stored.content_hash) == 64


def test_reingesting_the_same_file_adds_nothing(db, settings, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(i) for i in range(7)])
    ingest(db, settings, path)
    again = ingest(db, settings, path)
    assert (again.stored, again.duplicates, again.rejected) == (0, 7, 0)
    assert count_responses(db) == 7


def test_records_without_id_get_a_content_id_and_stay_idempotent(db, settings, tmp_path):
    rows = [record(i, id=..., created_at=...) for i in range(3)]
    path = write_jsonl(tmp_path / "noid.jsonl", rows)
    first = ingest(db, settings, path)
    second = ingest(db, settings, path)
    assert first.stored == 3 and second.stored == 0 and second.duplicates == 3
    assert all(rid.startswith("sha-") for rid in response_ids(db))


def test_same_id_other_content_is_a_conflict_and_not_overwritten(db, settings, tmp_path):
    ingest(db, settings, write_jsonl(tmp_path / "a.jsonl", [record(1)]))
    changed = record(1, response="A different answer.")
    report = ingest(db, settings, write_jsonl(tmp_path / "b.jsonl", [record(2), changed]))

    assert report.stored == 1 and report.conflicts == 1
    (error,) = report.errors
    assert (error.source.endswith("b.jsonl"), error.location, error.field, error.record_id) == (
        True,
        "line 2",
        "id",
        "r-1",
    )
    assert "conflict" in error.message
    assert get_response(db, "r-1").response == record(1)["response"]


def test_repeated_id_inside_one_file(db, settings, tmp_path):
    rows = [record(1), record(1), record(1, response="changed")]
    report = ingest(db, settings, write_jsonl(tmp_path / "a.jsonl", rows))
    assert (report.stored, report.duplicates, report.conflicts) == (1, 1, 1)
    assert report.errors[0].location == "line 3"


@pytest.mark.parametrize(
    ("line", "field", "fragment"),
    [
        ('{"id": "x", "prompt": "p"}', "response", "required field is missing"),
        (
            '{"id": "x", "response": "r", "latency_ms": "fast"}',
            "latency_ms",
            "expected a number, got text (got 'fast')",
        ),
        (
            '{"id": "x", "response": "r", "input_tokens": true}',
            "input_tokens",
            "expected an integer, got a boolean",
        ),
        ('{"id": "x", "response": "r", "cost": -1}', "cost", "must be >= 0 (got -1)"),
        (
            '{"id": "x", "response": "r", "confidence": 1.5}',
            "confidence",
            "must be <= 1 (got 1.5)",
        ),
        ('{"id": "x", "response": 42}', "response", "expected text, got an integer"),
        (
            '{"id": "x", "response": "r", "created_at": "yesterday"}',
            "created_at",
            "expected an ISO-8601 timestamp",
        ),
        (
            '{"id": "x", "response": "r", "metadata": [1]}',
            "metadata",
            "expected an object, got a list",
        ),
        ('{"id": "' + "i" * 129 + '", "response": "r"}', "id", "must be at most 128 characters"),
    ],
)
def test_invalid_records_name_line_and_field_and_the_rest_is_stored(
    db, settings, tmp_path, line, field, fragment
):
    path = write_jsonl(tmp_path / "bad.jsonl", [record(1), line, record(2)])
    report = ingest(db, settings, path)
    assert report.stored == 2 and report.invalid == 1
    (error,) = report.errors
    assert (error.location, error.field) == ("line 2", field)
    assert fragment in error.message
    assert str(error).startswith(f"{path}:line 2")


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ('{"id": "x", "response": ', "malformed JSON"),
        ("[1, 2, 3]", "expected a JSON object, got list"),
        ('"just a string"', "expected a JSON object, got str"),
    ],
)
def test_unparseable_lines_are_reported(db, settings, tmp_path, line, fragment):
    report = ingest(db, settings, write_jsonl(tmp_path / "bad.jsonl", [record(1), line]))
    assert report.stored == 1
    assert report.errors[0].location == "line 2" and fragment in report.errors[0].message


@pytest.mark.parametrize(
    ("line", "field", "fragment"),
    [
        ('{"id": "x", "response": "nul\\u0000byte"}', "response", "NUL character"),
        ('{"id": "x", "response": "r", "score": NaN}', "score", "not a storable number"),
        (
            '{"id": "x", "response": "r", "metadata": {"a": [Infinity]}}',
            "metadata.a[0]",
            "storable",
        ),
        ('{"id": "x", "response": "r", "metadata": {"a": "\\u0000"}}', "metadata.a", "NUL"),
    ],
)
def test_values_no_store_can_hold_are_rejected(db, settings, tmp_path, line, field, fragment):
    report = ingest(db, settings, write_jsonl(tmp_path / "a.jsonl", [record(1), line]))
    assert report.stored == 1
    assert (report.errors[0].field, report.errors[0].location) == (field, "line 2")
    assert fragment in report.errors[0].message


def test_in_process_records_with_dates_and_objects(db, settings):
    from datetime import date, datetime

    ingestor = Ingestor(db, settings)
    report = ingestor.ingest_records(
        [
            record(1, metadata={"day": date(2026, 1, 2), "at": datetime(2026, 1, 2, 3, 4)}),
            record(2, metadata={"obj": object()}),
        ]
    )
    assert report.stored == 1 and report.errors[0].field == "metadata.obj"
    assert get_response(db, "r-1").metadata == {"day": "2026-01-02", "at": "2026-01-02T03:04:00"}
    assert report.ids == ["r-1", None]


def test_text_fields_are_not_echoed_in_errors(db, settings, tmp_path):
    line = '{"id": "x", "response": ["jane@example.com"]}'
    report = ingest(db, settings, write_jsonl(tmp_path / "a.jsonl", [line]))
    assert "jane" not in report.errors[0].message


def test_invalid_utf8_names_the_field(db, settings, tmp_path):
    path = tmp_path / "latin1.jsonl"
    good = json.dumps(record(1)).encode()
    bad = b'{"id": "x", "prompt": "ok", "response": "caf\xe9"}'
    path.write_bytes(good + b"\n" + bad + b"\n")
    report = ingest(db, settings, path)
    assert report.stored == 1
    assert (report.errors[0].location, report.errors[0].field) == ("line 2", "response")
    assert "invalid UTF-8" in report.errors[0].message


def test_huge_field_and_huge_line_are_bounded(db, tmp_path, store_url):
    small = Settings(
        data_dir=tmp_path,
        database_url=store_url,
        max_field_chars=100,
        max_record_bytes=2048,
        _env_file=None,
    )
    rows = [record(1), record(2, response="x" * 101), record(3, context="y" * 5000), record(4)]
    report = ingest(db, small, write_jsonl(tmp_path / "big.jsonl", rows))
    assert report.stored == 2
    by_line = {e.location: e for e in report.errors}
    assert (
        by_line["line 2"].field == "response"
        and "over the limit of 100" in by_line["line 2"].message
    )
    assert (
        by_line["line 3"].field is None
        and "over the limit of 2,048 bytes" in by_line["line 3"].message
    )


def test_empty_file_is_an_error(db, settings, tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    report = ingest(db, settings, path)
    assert report.stored == 0
    assert report.errors[0].location == "file" and "no records" in report.errors[0].message


def test_missing_file_and_unknown_extension_are_usage_errors(db, settings, tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        ingest(db, settings, tmp_path / "nope.jsonl")
    odd = tmp_path / "data.txt"
    odd.write_text("{}")
    with pytest.raises(UsageError, match="--format"):
        ingest(db, settings, odd)


def test_csv_with_coercion_and_empty_cells(db, settings, tmp_path):
    path = tmp_path / "a.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "response", "latency_ms", "input_tokens", "tenant", "region"])
        writer.writerow(["c1", "hello, world", "12.5", "7", "", "eu"])
        writer.writerow(["c2", "multi\nline", "", "", "beta", ""])
        writer.writerow(["c3", "bad", "slow", "1", "x", "y"])
    report = ingest(db, settings, path)
    assert report.stored == 2
    assert (report.errors[0].location, report.errors[0].field) == ("line 5", "latency_ms")
    c1 = get_response(db, "c1")
    assert (c1.latency_ms, c1.input_tokens, c1.tenant, c1.metadata) == (
        12.5,
        7,
        None,
        {"region": "eu"},
    )
    assert get_response(db, "c2").response == "multi\nline"


def test_csv_without_the_needed_header_is_rejected_whole(db, settings, tmp_path):
    path = tmp_path / "noheader.csv"
    path.write_text("c1,hello,12\nc2,there,13\n")
    report = ingest(db, settings, path)
    assert report.stored == 0 and count_responses(db) == 0
    assert (
        "no column 'response'" in report.errors[0].message and report.errors[0].location == "file"
    )


def test_csv_row_with_too_many_values(db, settings, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text("id,response\na,ok\nb,ok,surplus\n")
    report = ingest(db, settings, path)
    assert report.stored == 1 and "3 values but the header has 2" in report.errors[0].message


@pytest.mark.parametrize("swap", [False, True])
def test_mapping_reads_every_column_as_given_whatever_the_order(db, settings, tmp_path, swap):
    """``response=output`` and ``prompt=response``: the prompt is the input's ``response``, not
    the ``output`` that an earlier pair moved there."""
    row = {"id": "m-1", "response": "the question", "output": "the answer"}
    pairs = ["response=output", "prompt=response"]
    path = write_jsonl(tmp_path / "m.jsonl", [row])
    report = ingest(
        db, settings, path, mapping=parse_mapping(pairs[::-1] if swap else pairs, kind="responses")
    )
    assert report.stored == 1, report.errors
    stored = get_response(db, "m-1")
    assert (stored.prompt, stored.response, stored.metadata) == ("the question", "the answer", {})


def test_mapping_renames_columns_and_reaches_into_json(db, settings, tmp_path):
    csv_path = tmp_path / "logs.csv"
    csv_path.write_text("request_id,output,model\nm1,the answer,small\n")
    report = ingest(
        db,
        settings,
        csv_path,
        mapping={"id": "request_id", "response": "output", "model_id": "model"},
    )
    assert report.stored == 1 and get_response(db, "m1").model_id == "small"

    nested = write_jsonl(
        tmp_path / "nested.jsonl",
        [
            {
                "id": "n1",
                "choices": [{"message": {"content": "from openai"}}],
                "meta": {"model": "m"},
            },
            {"id": "n2", "choices": []},
        ],
    )
    report = ingest(
        db,
        settings,
        nested,
        mapping={"response": "choices.0.message.content", "model_id": "meta.model"},
    )
    assert report.stored == 1
    assert get_response(db, "n1").response == "from openai"
    assert report.errors[0].field == "response (column 'choices.0.message.content')"


def test_parquet_and_gzip(db, settings, tmp_path):
    frame = pd.DataFrame([record(i) for i in range(4)])
    frame.to_parquet(tmp_path / "a.parquet")
    with gzip.open(tmp_path / "b.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(record(10)) + "\n")
    report = ingest(db, settings, tmp_path / "a.parquet", tmp_path / "b.jsonl.gz")
    assert report.stored == 5
    assert get_response(db, "r-3").input_tokens == 13


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_progress_of_a_gzipped_file_counts_bytes_on_disk(db, settings, tmp_path, monkeypatch, fmt):
    """The bar's total is the file's size on disk; progress must count the same bytes, not the
    (several times larger) decompressed ones, or the bar of a .gz file runs past 100%."""
    from evalkit.capture import readers

    monkeypatch.setattr(readers, "BLOCK_BYTES", 4096)  # many progress updates on a small file
    rows = [record(i, response="words " * 60) for i in range(300)]
    path = tmp_path / f"big.{fmt}.gz"
    with gzip.open(path, "wt", newline="") as fh:
        if fmt == "jsonl":
            fh.writelines(json.dumps(r) + "\n" for r in rows)
        else:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    size = path.stat().st_size
    seen: list[tuple[int, int]] = []
    report = Ingestor(db, settings, IngestOptions()).ingest_files(
        [path], progress=lambda _name, done, total: seen.append((done, total))
    )
    assert report.stored == 300 and not report.errors
    assert len(seen) > 3 and {total for _, total in seen} == {size}
    done = [d for d, _ in seen]
    assert done == sorted(done) and max(done) <= size
    assert done[-1] == size  # the whole file was read by the last item


def test_not_a_parquet_file(db, settings, tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_text("not parquet")
    report = ingest(db, settings, path)
    assert report.stored == 0 and "not a readable Parquet file" in report.errors[0].message


def test_strict_stores_nothing_when_one_record_is_bad(db, settings, tmp_path):
    ingest(db, settings, write_jsonl(tmp_path / "seed.jsonl", [record(100)]))
    rows = [record(i) for i in range(10)] + ['{"id": "bad"}']
    report = ingest(db, settings, write_jsonl(tmp_path / "a.jsonl", rows), strict=True)
    assert report.rolled_back and report.stored == 0 and report.invalid == 1
    assert response_ids(db) == ["r-100"]  # what was there before is untouched


def test_batches_commit_independently(db, tmp_path, store_url):
    small_batches = Settings(
        data_dir=tmp_path, database_url=store_url, batch_size=3, _env_file=None
    )
    rows = [record(i) for i in range(10)]
    rows[4] = '{"broken'
    report = ingest(db, small_batches, write_jsonl(tmp_path / "a.jsonl", rows))
    assert report.stored == 9 and count_responses(db) == 9


def test_pii_is_redacted_before_storage_and_counted(db, settings, tmp_path):
    rows = [
        record(
            1,
            prompt="Mail me at jane.doe@example.com or call +1-202-555-0143",
            metadata={"user_email": "jane.doe@example.com"},
        )
    ]
    report = ingest(db, settings, write_jsonl(tmp_path / "pii.jsonl", rows))
    stored = get_response(db, "r-1")
    assert (
        "jane.doe" not in stored.prompt
        and "[EMAIL]" in stored.prompt
        and "[PHONE]" in stored.prompt
    )
    assert stored.metadata == {"user_email": "[EMAIL]"}
    assert report.redactions == {"email": 2, "phone": 1}


def test_redaction_can_be_turned_off(db, settings, tmp_path):
    raw = settings.model_copy(update={"redact_enabled": False})
    ingest(db, raw, write_jsonl(tmp_path / "pii.jsonl", [record(1, prompt="jane@example.com")]))
    assert get_response(db, "r-1").prompt == "jane@example.com"


def test_in_memory_ids_and_indexes_follow_input_positions(db, settings):
    a, b = record(1), record(1, response="other content")
    report = Ingestor(db, settings).ingest_records([a, b, a, {"id": "x"}, "not an object"])
    assert report.ids == ["r-1", None, "r-1", None, None]
    assert [(e.index, e.field) for e in report.errors] == [(3, "response"), (4, None), (1, "id")]
    assert report.errors[2].location == "record 2"
