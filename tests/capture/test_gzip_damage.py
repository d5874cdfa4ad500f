"""Gzipped input that is damaged: cut short, not gzip at all, corrupt, or failing its checksum.

A damaged ``.gz`` is a file problem, like a file that is not Parquet: one error located ``file``
whose message names the line where reading failed, after every record before that line has been
handled as usual; the other files of the run are still ingested, and the command exits 1 (records
rejected), never with a traceback or a bare "Aborted". How many lines a cut-short file still
holds is worked out here with ``zlib`` (not ``gzip``, which the reader uses), so the test would
see a reader that drops the decompressed part of its last block.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.capture import readers
from evalkit.capture.ingest import Ingestor
from evalkit.cli import app
from evalkit.records import IngestReport
from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.store.queries import response_ids
from tests.helpers import record, write_jsonl

ROWS = [record(i, response=f"Answer {i}: " + "refunds take thirty days. " * 4) for i in range(1500)]


def content(fmt: str) -> bytes:
    """``ROWS`` as a JSONL or CSV file (one line per record, a header line for CSV)."""
    if fmt == "jsonl":
        return "".join(json.dumps(row) + "\n" for row in ROWS).encode()
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(ROWS[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(ROWS)
    return text.getvalue().encode()


def whole_lines(damaged: bytes) -> int:
    """Lines that end before the damage: all ``zlib`` can decompress, up to the last newline."""
    return zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(damaged).count(b"\n")


def ingest(db: Database, settings: Settings, *paths: Path) -> IngestReport:
    return Ingestor(db, settings).ingest_files(list(paths))


def good_file(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "good.jsonl", [record(9999)])


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_cut_short_gzip_keeps_every_record_before_the_cut(
    db, settings, tmp_path, monkeypatch, fmt, workers
):
    # Blocks much smaller than the file, so the cut falls well inside one of many blocks.
    monkeypatch.setattr(readers, "BLOCK_BYTES", 1 << 14)
    packed = gzip.compress(content(fmt))
    cut = packed[: len(packed) // 2]
    path = tmp_path / f"half.{fmt}.gz"
    path.write_bytes(cut)
    lines = whole_lines(cut)
    records = lines if fmt == "jsonl" else lines - 1  # the header
    assert 100 < records < len(ROWS)

    report = ingest(
        db, settings.model_copy(update={"ingest_workers": workers}), path, good_file(tmp_path)
    )

    assert [(e.source, e.location, e.message) for e in report.errors] == [
        (
            str(path),
            "file",
            f"line {lines + 1}: the gzip stream ends early, after line {lines} "
            "(the file is cut short)",
        )
    ]
    assert report.stored == records + 1
    assert sorted(response_ids(db)) == sorted([f"r-{i}" for i in range(records)] + ["r-9999"])


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_file_named_gz_that_is_not_gzip_is_a_file_problem(db, settings, tmp_path, fmt):
    path = tmp_path / f"plain.{fmt}.gz"
    path.write_bytes(content(fmt))
    start = content(fmt)[:2]

    report = ingest(db, settings, path, good_file(tmp_path))

    assert [(e.location, e.message) for e in report.errors] == [
        ("file", f"line 1: not a readable gzip file (Not a gzipped file ({start!r}))")
    ]
    assert response_ids(db) == ["r-9999"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_a_corrupt_gzip_stream_is_a_file_problem(db, settings, tmp_path, fmt):
    packed = bytearray(gzip.compress(content(fmt)))
    packed[10] = 0xFF  # the first deflate block: final, of the reserved type 3
    path = tmp_path / f"corrupt.{fmt}.gz"
    path.write_bytes(bytes(packed))

    report = ingest(db, settings, path, good_file(tmp_path))

    (error,) = report.errors
    assert error.location == "file"
    assert error.message.startswith("line 1: not a readable gzip file (Error -3 ")
    assert "invalid block type" in error.message
    assert response_ids(db) == ["r-9999"]


def test_corruption_mid_stream_keeps_the_records_before_it(db, settings, tmp_path):
    """A stream that turns corrupt half-way (a deflate block of the reserved type after a full
    flush): what was decompressed of it before that spot must not be thrown away with the
    failing read, bar at most 8 KiB of it (``GZIP_STEP``); the error names the first line lost."""
    data = content("jsonl")
    half = data.index(b"\n", len(data) // 2) + 1  # the good part ends with a whole line
    packer = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
    packed = packer.compress(data[:half]) + packer.flush(zlib.Z_FULL_FLUSH)
    path = tmp_path / "corrupt-later.jsonl.gz"
    path.write_bytes(packed + b"\xff" * 64)  # final block of the reserved type 3: invalid
    good_lines = data[:half].count(b"\n")

    report = ingest(db, settings, path)

    (error,) = report.errors
    lost = good_lines - report.stored
    shortest = min(len(line) for line in data[:half].splitlines(keepends=True))
    assert good_lines > 500 and 0 <= lost <= 8 * 1024 // shortest + 1, (good_lines, lost)
    assert error.message.startswith(f"line {report.stored + 1}: not a readable gzip file")


def test_a_gzip_failing_its_checksum_is_reported_after_its_lines(db, settings, tmp_path):
    """The checksum is at the end of the stream: every line has been read when it fails."""
    packed = gzip.compress(content("jsonl"))
    path = tmp_path / "crc.jsonl.gz"
    path.write_bytes(packed[:-8] + b"\0\0\0\0" + packed[-4:])

    report = ingest(db, settings, path)

    (error,) = report.errors
    assert error.location == "file"
    assert error.message.startswith(
        f"line {len(ROWS) + 1}: not a readable gzip file (CRC check failed"
    )
    assert report.stored == len(ROWS)


def test_the_command_reports_damaged_gzip_files_and_exits_1(tmp_path, store_url):
    """It printed only "Aborted." for a cut-short file, and a traceback for one not gzip."""
    packed = gzip.compress(content("jsonl"))
    half = tmp_path / "half.jsonl.gz"
    half.write_bytes(packed[: len(packed) // 2])
    fake = tmp_path / "fake.csv.gz"
    fake.write_bytes(content("csv"))
    lines = whole_lines(half.read_bytes())
    env = {"EVALKIT_DATA_DIR": str(tmp_path / "data"), "EVALKIT_DATABASE_URL": store_url}

    result = CliRunner().invoke(
        app,
        ["ingest", "--quiet", str(half), str(fake), str(good_file(tmp_path))],
        env=env,
        catch_exceptions=False,
    )

    assert result.exit_code == 1, result.output
    assert "Aborted" not in result.output
    assert f"stored {lines + 1:,}" in result.output
    assert f"line {lines + 1}: the gzip stream ends early, after line {lines}" in result.output
    assert "line 1: not a readable gzip file (Not a gzipped file (b'id'))" in result.output
