"""Forms real inputs come in that ingest must take as meant: where a CSV record spanning lines is
reported, ``--format`` in any case, a date without a time, metadata carried as JSON text.
"""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.capture.readers import detect_format
from evalkit.cli import app
from evalkit.errors import UsageError
from evalkit.records import IngestReport
from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.store.queries import get_response
from tests.helpers import write_jsonl


def ingest(db: Database, settings: Settings, *paths: Path, **options) -> IngestReport:
    return Ingestor(db, settings, IngestOptions(**options)).ingest_files(list(paths))


def errors(report: IngestReport) -> list[tuple[str, str | None, str]]:
    return [(e.location, e.field, e.message) for e in report.errors]


# -- CSV records spanning lines -----------------------------------------------------------------


def test_a_csv_record_is_named_by_the_line_it_starts_on(db, settings, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(
        "id,response,latency_ms\n"
        'm1,"two\nlines",slow\n'  # lines 2-3
        'm2,"three\nmore\nlines",12\n'  # lines 4-6: stored
        'm3,"x\ny",1,surplus\n'  # lines 7-8
        "m4,one line,fast\n"  # line 9
        "\n"  # line 10: blank
        'm5,"a\nb",-1\n'  # lines 11-12
    )
    report = ingest(db, settings, path)
    assert errors(report) == [
        ("line 2", "latency_ms", "expected a number, got text (got 'slow')"),
        ("line 7", None, "4 values but the header has 3 columns"),
        ("line 9", "latency_ms", "expected a number, got text (got 'fast')"),
        ("line 11", "latency_ms", "must be >= 0 (got '-1')"),
    ]
    assert get_response(db, "m2").response == "three\nmore\nlines"


def test_an_unreadable_csv_record_is_named_by_the_line_it_starts_on(db, tmp_path, store_url):
    small = Settings(
        data_dir=tmp_path, database_url=store_url, max_record_bytes=1024, _env_file=None
    )
    path = tmp_path / "a.csv"
    path.write_text(f'id,response\na,ok\nb,"{"x" * 600}\n{"y" * 600}"\nc,fine\n')
    report = ingest(db, small, path)
    assert errors(report) == [
        ("line 3", None, "unreadable CSV row: field larger than field limit (1024)")
    ]
    assert report.stored == 2


# -- --format in any case -----------------------------------------------------------------------


@pytest.mark.parametrize("given", ["CSV", "Csv", " csv "])
def test_format_names_are_taken_in_any_case(given):
    assert detect_format(Path("export.txt"), given) == "csv"


def test_an_unknown_format_is_still_a_usage_error():
    with pytest.raises(UsageError, match="unknown format 'XML'; use one of jsonl, csv, parquet"):
        detect_format(Path("export.txt"), "XML")


def test_the_command_takes_an_upper_case_format(tmp_path, store_url):
    path = tmp_path / "export.txt"
    path.write_text("id,response\nu1,hello\n")
    env = {"EVALKIT_DATA_DIR": str(tmp_path / "data"), "EVALKIT_DATABASE_URL": store_url}
    result = CliRunner().invoke(
        app, ["ingest", "--quiet", "--format", "CSV", str(path)], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert "stored 1" in result.output


# -- a date without a time ----------------------------------------------------------------------

MIDNIGHT = datetime(2025, 1, 1, tzinfo=UTC)


def test_a_date_alone_is_midnight_utc_in_jsonl_csv_and_parquet(db, settings, tmp_path):
    jsonl = write_jsonl(
        tmp_path / "a.jsonl", [{"id": "j", "response": "x", "created_at": "2025-01-01"}]
    )
    csv_path = tmp_path / "a.csv"
    csv_path.write_text("id,response,created_at\nc,x,2025-01-01\n")
    parquet = tmp_path / "a.parquet"
    pd.DataFrame([{"id": "p", "response": "x", "created_at": date(2025, 1, 1)}]).to_parquet(parquet)

    report = ingest(db, settings, jsonl, csv_path, parquet)

    assert (report.stored, report.errors) == (3, [])
    assert [get_response(db, rid).created_at for rid in "jcp"] == [MIDNIGHT] * 3


@pytest.mark.parametrize("stamp", ["2025-02-30", "2025-13-01", "2025-1-01", "2025-01-01 "])
def test_a_date_that_is_not_one_is_still_refused(db, settings, tmp_path, stamp):
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "x", "response": "r", "created_at": stamp}])
    ((location, field, message),) = errors(ingest(db, settings, path))
    assert (location, field) == ("line 1", "created_at")
    assert message.startswith("expected an ISO-8601 timestamp (e.g. 2026-11-02T10:00:00Z), a date")
    assert message.endswith(f"(got {stamp!r})")


def test_feedback_takes_a_date_alone_too(db, settings, tmp_path):
    write = write_jsonl(tmp_path / "r.jsonl", [{"id": "r1", "response": "x"}])
    ingest(db, settings, write)
    event = {"response_id": "r1", "kind": "comment", "value": "v", "created_at": "2025-01-01"}
    report = ingest(db, settings, write_jsonl(tmp_path / "f.jsonl", [event]), kind="feedback")
    assert (report.stored, report.errors) == (1, [])


# -- numbers given as text --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "text"),
    [("latency_ms", "inf"), ("latency_ms", "Infinity"), ("cost", "1e999"), ("latency_ms", "nan")],
)
def test_text_that_reads_as_a_non_finite_number_is_refused_naming_the_field(
    db, settings, tmp_path, field, text
):
    """ "inf" passed ``>= 0`` through msgspec's CSV coercions and was stored as infinity."""
    jsonl = write_jsonl(tmp_path / "a.jsonl", [{"id": "j", "response": "x", field: text}])
    csv_path = tmp_path / "a.csv"
    csv_path.write_text(f"id,response,{field}\nc,x,{text}\nkept,y,12.5\n")

    report = ingest(db, settings, jsonl, csv_path)

    assert [(e.location, e.field) for e in report.errors] == [("line 1", field), ("line 2", field)]
    for error in report.errors:
        assert f"(got {text!r})" in error.message
        assert any(w in error.message for w in ("finite", "out of range", ">= 0"))
    assert report.stored == 1
    assert getattr(get_response(db, "kept"), field) == 12.5


# -- metadata as JSON text ----------------------------------------------------------------------


def test_a_csv_metadata_cell_holding_a_json_object_is_the_metadata(db, settings, tmp_path):
    path = tmp_path / "a.csv"
    path.write_text(
        "id,response,metadata,region\n"
        'm1,x,"{""a"": 1, ""tags"": [""b"", null]}",eu\n'
        "m2,x,,eu\n"  # an empty cell: no metadata, as for any other field
    )
    report = ingest(db, settings, path)
    assert (report.stored, report.errors) == (2, [])
    assert get_response(db, "m1").metadata == {"region": "eu", "a": 1, "tags": ["b", None]}
    assert get_response(db, "m2").metadata == {"region": "eu"}


@pytest.mark.parametrize(
    ("cell", "field", "message"),
    [
        (
            "not json",
            "metadata",
            "expected an object, or text holding a JSON object; got text that is not JSON "
            "(Expecting value at column 1)",
        ),
        (
            "[1, 2]",
            "metadata",
            "expected an object, or text holding a JSON object; got text holding a list",
        ),
        (
            '"text"',
            "metadata",
            "expected an object, or text holding a JSON object; got text holding text",
        ),
        (
            "null",
            "metadata",
            "expected an object, or text holding a JSON object; got text holding null",
        ),
        ('{"a": NaN}', "metadata.a", "nan is not a storable number"),
        ('{"a": "\\u0000"}', "metadata.a", "NUL character at position 0"),
    ],
)
def test_metadata_text_that_is_not_a_storable_object_names_metadata(
    db, settings, tmp_path, cell, field, message
):
    path = tmp_path / "a.csv"
    with path.open("w", newline="") as fh:
        csv.writer(fh).writerows(
            [["id", "response", "metadata"], ["ok", "x", ""], ["bad", "x", cell]]
        )
    report = ingest(db, settings, path)
    assert report.stored == 1
    assert errors(report) == [("line 3", field, message)]


def test_jsonl_metadata_given_as_text_is_the_object(db, settings, tmp_path):
    row = {"id": "t", "response": "x", "metadata": json.dumps({"a": {"b": 2}})}
    report = ingest(db, settings, write_jsonl(tmp_path / "a.jsonl", [row]))
    assert (report.stored, report.errors) == (1, [])
    assert get_response(db, "t").metadata == {"a": {"b": 2}}
