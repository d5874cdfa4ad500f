"""JSONL read in blocks: whatever the block size, the same lines, numbered and bounded the same.

``Reader`` reads ``BLOCK_BYTES`` at a time and hands out ``LineBlock``s of whole lines, plus an
error item for a line it stops holding because it grew past ``max_record_bytes``; the lines of a
block are split (and over-long ones refused) later, by ``LineBlock.lines``. Block edges are
where such code goes wrong: a line, a CRLF pair, a byte order mark or an over-long line cut in
two. So the block size is made tiny (1, 2, 3, 7 bytes: every edge falls everywhere) and the
items are compared with what the file holds, worked out here line by line:

- one item per line that is not blank, in order, located ``line N`` (1-based, counting blank
  lines too), ``raw`` the bytes before its ``\\n``: a CRLF line keeps its ``\\r`` (JSON
  whitespace, ignored by the decoders) and the ``\\r`` counts toward the limit, as it did before
  block reading; a UTF-8 byte order mark opening the file is not part of line 1;
- an error item "record is over the limit of N bytes" for each line longer than that, blank or
  not, and no other item for it.

An end-to-end check then ingests one file with tiny blocks and with the default size: the same
ids stored and the same errors at the same lines.
"""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from evalkit.capture import readers
from evalkit.capture.ingest import Ingestor
from evalkit.capture.readers import LineBlock, RawItem, Reader
from evalkit.records import IngestReport
from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.store.queries import response_ids
from tests.helpers import record

PROPERTY = hsettings(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
BOM = b"\xef\xbb\xbf"


def too_long(limit: int) -> str:
    return f"record is over the limit of {limit:,} bytes (EVALKIT_MAX_RECORD_BYTES)"


def read_items(path: Path, limit: int, block_bytes: int) -> list[tuple[str, bytes | None, Any]]:
    """(location, raw, error) of every item, blocks expanded, reading ``block_bytes`` at a time.

    On the way, checks what the reader promises about its output as a whole: blocks and error
    items follow each other without a gap or an overlap in line numbers, and progress never
    goes back.
    """
    out = []
    progress, next_line = 0, 1
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(readers, "BLOCK_BYTES", block_bytes)
        for item in Reader(path, "jsonl", max_record_bytes=limit):
            assert item.progress >= progress
            progress = item.progress
            if isinstance(item, LineBlock):
                assert item.first_line == next_line
                next_line += item.data.count(b"\n") + 1
                expanded: list[RawItem] = list(item.lines(limit))
            else:
                assert item.location == f"line {next_line}" and item.raw is None
                next_line += 1
                expanded = [item]
            for x in expanded:
                assert x.data is None and x.index is None
                out.append((x.location, x.raw, x.error))
    return out


def expected_items(
    lines: list[tuple[bytes, bytes]], limit: int
) -> list[tuple[str, bytes | None, Any]]:
    """The items a file of (content, ending) lines must give, worked out line by line."""
    out = []
    for number, (content, ending) in enumerate(lines, start=1):
        raw = content + (b"\r" if ending == b"\r\n" else b"")
        if len(raw) > limit:
            out.append((f"line {number}", None, too_long(limit)))
        elif raw.strip():
            out.append((f"line {number}", raw, None))
    return out


# -- strategies -----------------------------------------------------------------------------------

LIMITS = st.sampled_from([8, 16, 40])
BLANKS = st.sampled_from([b"", b" ", b"\t", b"\r", b" \t\r ", b"\x0b\x0c"])
CONTENT = st.binary(max_size=50).map(lambda b: b.replace(b"\n", b"x"))
JSONISH = st.builds(
    lambda i, t: b'{"id": "r-%d", "t": "%s"}' % (i, t.encode()),
    st.integers(0, 99),
    st.text("abc é\\", max_size=20),
)


@st.composite
def files(draw: Any) -> tuple[list[tuple[bytes, bytes]], int, bool]:
    """Lines as (content without ending, ending), the limit, and whether a BOM opens the file."""
    limit = draw(LIMITS)
    near_limit = st.integers(max(0, limit - 2), limit + 2).flatmap(
        lambda n: st.binary(min_size=n, max_size=n).map(lambda b: b.replace(b"\n", b"y"))
    )
    over_limit_blank = st.integers(limit, limit + 3).map(lambda n: b" " * n)
    content = st.one_of(JSONISH, JSONISH, BLANKS, CONTENT, near_limit, over_limit_blank)
    contents = draw(st.lists(content, max_size=12))
    lines = [(c, draw(st.sampled_from([b"\n", b"\n", b"\r\n"]))) for c in contents]
    if lines and draw(st.booleans()):  # the last line without an ending
        lines[-1] = (lines[-1][0], b"")
    return lines, limit, draw(st.booleans())


def write(path: Path, lines: list[tuple[bytes, bytes]], bom: bool, compress: bool = False) -> Path:
    data = (BOM if bom else b"") + b"".join(c + e for c, e in lines)
    if compress:
        path = path.with_name(path.name + ".gz")
        with gzip.open(path, "wb") as fh:
            fh.write(data)
    else:
        path.write_bytes(data)
    return path


# -- the reader -----------------------------------------------------------------------------------


@hsettings(PROPERTY, max_examples=250)
@given(files(), st.sampled_from([1, 2, 3, 7, 64, 1 << 20]), st.booleans())
@example(([(b"", b"\n"), (b"{}", b"\r\n"), (b"  ", b"")], 8, True), 7, False)
@example(([(b"x" * 9, b"\n"), (b"{}", b"\n")], 8, False), 1, False)  # over-long, then a record
@example(([(b"x" * 8, b"\r\n"), (b"x" * 8, b"\n")], 8, False), 3, False)  # \r counts
@example(([(b" " * 9, b"\n"), (b"{}", b"")], 8, True), 64, True)  # over-long blank line
def test_every_block_size_gives_the_lines_of_the_file(file, block_bytes, compress):
    """Random lines (records, blanks, binary, lengths around the limit), plain or gzipped."""
    lines, limit, bom = file
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp) / "in.jsonl", lines, bom, compress)
        assert read_items(path, limit, block_bytes) == expected_items(lines, limit)


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 7, 64])
def test_a_line_far_over_the_limit_is_one_error_whatever_the_blocks(tmp_path, block_bytes):
    """Skipping the rest of a long line spans many blocks; numbering goes on after it."""
    lines = [(b'{"a": 1}', b"\n"), (b"z" * 500, b"\r\n"), (b"", b"\n"), (b'{"b": 2}', b"")]
    path = write(tmp_path / "in.jsonl", lines, bom=True)
    assert read_items(path, 16, block_bytes) == [
        ("line 1", b'{"a": 1}', None),
        ("line 2", None, too_long(16)),
        ("line 4", b'{"b": 2}', None),
    ]


@pytest.mark.parametrize("block_bytes", [1, 2, 3, 7])
def test_bom_split_across_reads_is_stripped(tmp_path, block_bytes):
    """Reads shorter than the mark itself (it once stayed in line 1 below 3 bytes a read)."""
    path = write(tmp_path / "in.jsonl", [(b'{"a": 1}', b"\n")], bom=True)
    assert read_items(path, 100, block_bytes) == [("line 1", b'{"a": 1}', None)]


# -- end to end -----------------------------------------------------------------------------------

LIMIT = 1024  # the smallest max_record_bytes Settings accepts


def e2e_lines() -> list[tuple[bytes, bytes]]:
    """Good records, blank and broken lines, an over-long one, CRLF, no final newline."""
    good = [record(i) for i in range(8)]
    good[3].pop("id")  # an id derived from the content
    lines = [
        (json.dumps(good[0]).encode(), b"\n"),
        (b"", b"\n"),
        (json.dumps(good[1]).encode(), b"\r\n"),
        (b"   \t", b"\n"),
        (b'{"id": "bad-1", "response": "r", "input_tokens": -1}', b"\n"),
        (json.dumps(good[2]).encode(), b"\n"),
        (b'{"id": "cut", "respo', b"\n"),
        (json.dumps(record(9, response="x" * (LIMIT + 50))).encode(), b"\n"),  # over the limit
        (json.dumps(good[3]).encode(), b"\r\n"),
        (json.dumps(good[4]).encode(), b"\n"),
        (b"[1, 2]", b"\n"),
        (json.dumps(good[0]).encode(), b"\n"),  # a duplicate
        (json.dumps(record(1, response="other")).encode(), b"\n"),  # a conflict
        *[(json.dumps(g).encode(), b"\n") for g in good[5:]],
        (b"  ", b""),
    ]
    return lines


def ingest_file(settings: Settings, db: Database, path: Path) -> tuple[IngestReport, list[str]]:
    report = Ingestor(db, settings).ingest_files([path])
    return report, sorted(response_ids(db))


def summary(report: IngestReport) -> tuple[Any, ...]:
    """Counts, and each error as (line number, field, message), in line order."""
    counts = (report.read, report.stored, report.duplicates, report.conflicts, report.invalid)
    errors = sorted((int(e.location.split()[-1]), e.field, e.message) for e in report.errors)
    return counts, errors


@pytest.mark.parametrize(
    ("block_bytes", "bom", "compress"),
    [(1, True, False), (7, True, False), (64, True, True), (64, False, False)],
)
def test_ingest_with_tiny_blocks_stores_and_refuses_the_same(
    tmp_path, store_url, block_bytes, bom, compress
):
    path = write(tmp_path / "in.jsonl", e2e_lines(), bom, compress)

    reference = Settings(data_dir=tmp_path / "ref", max_record_bytes=LIMIT, _env_file=None)  # type: ignore[call-arg]
    ref_db = Database.open(reference.resolved_database_url)
    try:
        want, want_ids = ingest_file(reference, ref_db, path)
    finally:
        ref_db.dispose()

    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=store_url,
        max_record_bytes=LIMIT,
        _env_file=None,  # type: ignore[call-arg]
    )
    db = Database.open(store_url)
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(readers, "BLOCK_BYTES", block_bytes)
            got, got_ids = ingest_file(settings, db, path)
    finally:
        db.dispose()

    assert got_ids == want_ids
    assert summary(got) == summary(want)
    # ... and both are what the file holds, not merely the same as each other.
    assert len(want_ids) == 8 and "r-0" in want_ids and any(i.startswith("sha-") for i in want_ids)
    counts, errors = summary(want)
    assert counts == (14, 8, 1, 1, 4)
    assert [(line, field) for line, field, _ in errors] == [
        (5, "input_tokens"),
        (7, None),
        (8, None),
        (11, None),
        (13, "id"),
    ]
    assert errors[2][2] == too_long(LIMIT)
