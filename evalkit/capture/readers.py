"""Reading JSONL, CSV and Parquet files into raw records, one located item at a time.

A reader never raises for a bad record: it yields a ``RawItem`` with the error and moves on, so a
single broken line cannot stop a million good ones. Only a file that cannot be read at all (not
found, not Parquet, no header) raises ``FileProblem``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import msgspec

from evalkit.errors import UsageError

FORMATS = ("jsonl", "csv", "parquet")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}


class FileProblem(Exception):
    """The file as a whole cannot be read (the message says why and where)."""


@dataclass(frozen=True)
class RawItem:
    location: str  # "line 12" or "row 7"
    data: dict[str, Any] | None  # None when the record could not be parsed
    error: str | None = None
    progress: int = 0  # bytes or rows consumed so far, for progress bars
    index: int | None = None  # 0-based position, for in-memory batches
    raw: bytes | None = None  # an undecoded JSONL line (``Reader(decode=False)``)


_decode_json = msgspec.json.Decoder().decode


def decode_line(item: RawItem) -> RawItem:
    """Parse the JSON of an undecoded line; the item is returned with ``data`` or ``error``."""
    assert item.raw is not None
    try:
        # msgspec is the fast path (it keeps integers of any size, where orjson makes floats
        # of those beyond 64 bits); it refuses a line with invalid UTF-8 or NaN.
        value, error = _decode_json(item.raw), None
    except (msgspec.DecodeError, UnicodeDecodeError):
        value, error = _careful_decode(item.raw)
    if error is None and not isinstance(value, dict):
        error = f"expected a JSON object, got {type(value).__name__}"
    if error is not None:
        return RawItem(item.location, None, error, item.progress, item.index)
    return RawItem(item.location, value, None, item.progress, item.index)


def _careful_decode(line: bytes) -> tuple[Any, str | None]:
    """The slow path for a line the fast decoder refused, to say precisely what is wrong.

    Invalid UTF-8 is decoded with surrogate escapes so the field holding it can be named
    (validation reports it); ``NaN``/``Infinity`` are parsed and refused by validation too.
    Returns ``(value, None)``, or ``(None, message)`` when the line is not JSON.
    """
    text = line.decode("utf-8", "surrogateescape").strip()
    try:
        return json.loads(text), None
    except json.JSONDecodeError as exc:
        return None, f"malformed JSON: {exc.msg} at column {exc.colno}"
    except RecursionError:
        return None, "malformed JSON: nested too deeply"
    except ValueError as exc:  # e.g. an integer of thousands of digits
        return None, f"malformed JSON: {exc}"


def detect_format(path: Path, explicit: str | None = None) -> str:
    if explicit:
        if explicit not in FORMATS:
            raise UsageError(f"unknown format {explicit!r}; use one of {', '.join(FORMATS)}")
        return explicit
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise UsageError(
        f"{path}: cannot tell the format from the extension; pass --format {'|'.join(FORMATS)}"
    )


class Reader:
    """Iterates the raw records of one file; ``total`` is the unit count for a progress bar."""

    def __init__(self, path: Path, fmt: str, *, max_record_bytes: int, decode: bool = True) -> None:
        """``decode=False`` leaves JSONL lines undecoded (``RawItem.raw``), so parsing can happen
        in worker processes (``decode_line``)."""
        if not path.exists():
            raise UsageError(f"{path}: no such file")
        if path.is_dir():
            raise UsageError(f"{path}: is a directory, not a file")
        self.path = path
        self.format = fmt
        self.max_record_bytes = max_record_bytes
        self.decode = decode
        self.total = path.stat().st_size
        self.columns: list[str] | None = None

    def __iter__(self) -> Iterator[RawItem]:
        if self.format == "jsonl":
            return self._jsonl()
        if self.format == "csv":
            return self._csv()
        return self._parquet()

    def _open_binary(self) -> IO[bytes]:
        if self.path.suffix.lower() == ".gz":
            return gzip.open(self.path, "rb")  # type: ignore[return-value]
        return self.path.open("rb")

    def _jsonl(self) -> Iterator[RawItem]:
        limit = self.max_record_bytes
        with self._open_binary() as fh:
            number = 0
            consumed = 0
            while True:
                line = fh.readline(limit + 1)
                if not line:
                    break
                number += 1
                consumed += len(line)
                if len(line) > limit and not line.endswith(b"\n"):
                    while True:  # skip the rest of the oversized line
                        rest = fh.readline(1 << 20)
                        consumed += len(rest)
                        if not rest or rest.endswith(b"\n"):
                            break
                    yield RawItem(
                        f"line {number}",
                        None,
                        f"record is over the limit of {limit:,} bytes (EVALKIT_MAX_RECORD_BYTES)",
                        consumed,
                    )
                    continue
                if number == 1 and line.startswith(b"\xef\xbb\xbf"):  # UTF-8 byte order mark
                    line = line[3:]
                if not line.strip():
                    continue
                item = RawItem(f"line {number}", None, None, consumed, raw=line)
                yield decode_line(item) if self.decode else item

    def _csv(self) -> Iterator[RawItem]:
        csv.field_size_limit(self.max_record_bytes)
        with self._open_binary() as raw:
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.reader(text)
            try:
                header = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileProblem(f"{self.path}: line 1: unreadable CSV header: {exc}") from None
            header = [h.strip() for h in header]
            self.columns = header
            if len(set(header)) != len(header) or any(not h for h in header):
                raise FileProblem(
                    f"{self.path}: line 1: the CSV header has empty or repeated column names: "
                    f"{header!r}"
                )
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield RawItem(
                        f"line {reader.line_num}",
                        None,
                        f"unreadable CSV row: {exc}",
                        self._tell(raw),
                    )
                    continue
                if not row or all(not cell for cell in row):
                    continue
                location = f"line {reader.line_num}"
                if len(row) > len(header):
                    yield RawItem(
                        location,
                        None,
                        f"{len(row)} values but the header has {len(header)} columns",
                        self._tell(raw),
                    )
                    continue
                yield RawItem(location, dict(zip(header, row, strict=False)), None, self._tell(raw))

    @staticmethod
    def _tell(raw: IO[bytes]) -> int:
        try:
            return raw.tell()
        except (OSError, ValueError):
            return 0

    def _parquet(self) -> Iterator[RawItem]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            pf = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileProblem(f"{self.path}: not a readable Parquet file: {exc}") from None
        self.total = pf.metadata.num_rows
        self.columns = pf.schema_arrow.names
        number = 0
        try:
            for batch in pf.iter_batches(batch_size=4096):
                for row in batch.to_pylist():
                    number += 1
                    yield RawItem(f"row {number}", row, None, number)
        except (pa.ArrowInvalid, OSError) as exc:
            raise FileProblem(
                f"{self.path}: row {number + 1}: Parquet read failed: {exc}"
            ) from None
