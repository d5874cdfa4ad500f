"""Reading JSONL, CSV and Parquet files into raw records, one located item at a time.

A reader never raises for a bad record: it yields a ``RawItem`` with the error and moves on, so a
single broken line cannot stop a million good ones. Only a file that cannot be read at all (not
found, not Parquet, no header) raises ``FileProblem``; so does a file that stops being readable
part way (a Parquet page or a gzip stream that is damaged or cut short), after the records
before the damage.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


class RawItem(msgspec.Struct, frozen=True):
    """One input record before validation (a struct: built per line, so it must be cheap)."""

    location: str  # "line 12" or "row 7"
    data: dict[str, Any] | None  # None when the record could not be parsed
    error: str | None = None
    progress: int = 0  # bytes or rows consumed so far, for progress bars
    index: int | None = None  # 0-based position, for in-memory batches
    raw: bytes | None = None  # an undecoded JSONL line (see ``LineBlock``)


@dataclass(frozen=True)
class LineBlock:
    """Whole, undecoded JSONL lines, the first of them numbered ``first_line``.

    JSONL is read in blocks of about a megabyte, not line by line: splitting and decoding
    happen where the records are prepared (possibly a worker process), so the reading process
    does almost nothing per record. Lines may be blank or longer than the record limit; whoever
    splits the block checks (``lines``).
    """

    first_line: int
    data: bytes
    progress: int  # bytes consumed so far, for progress bars

    @property
    def blank(self) -> bool:
        """Only blank lines (found at the first other byte, so cheap on real data)."""
        return not self.data or self.data.isspace()

    def lines(self, max_record_bytes: int) -> Iterator[RawItem]:
        """The block's records as undecoded items; an over-long line is an item with an error."""
        number = self.first_line - 1
        for line in self.data.split(b"\n"):
            number += 1
            if len(line) > max_record_bytes:
                yield RawItem(f"line {number}", None, _too_long(max_record_bytes), self.progress)
            elif line.strip():
                yield RawItem(f"line {number}", None, None, self.progress, raw=line)


def _too_long(limit: int) -> str:
    return f"record is over the limit of {limit:,} bytes (EVALKIT_MAX_RECORD_BYTES)"


#: Bytes read at a time from a JSONL file.
BLOCK_BYTES = 1 << 20


_decode_json = msgspec.json.Decoder().decode


def decode_line(item: RawItem) -> RawItem:
    """Parse the JSON of an undecoded line; the item is returned with ``data`` or ``error``."""
    assert item.raw is not None
    try:
        # msgspec is the fast path (it keeps integers of any size, where orjson makes floats
        # of those beyond 64 bits); it refuses a line with invalid UTF-8 or NaN.
        value, error = _decode_json(item.raw), None
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):  # nested thousands deep
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
    """The format of ``path``: ``explicit`` if given (any case: ``CSV`` is ``csv``), else by
    extension, ignoring a final ``.gz``."""
    if explicit:
        fmt = explicit.strip().lower()
        if fmt not in FORMATS:
            raise UsageError(f"unknown format {explicit!r}; use one of {', '.join(FORMATS)}")
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    if suffixes and suffixes[-1] in _SUFFIXES:
        return _SUFFIXES[suffixes[-1]]
    raise UsageError(
        f"{path}: cannot tell the format from the extension; pass --format {'|'.join(FORMATS)}"
    )


#: A file opened for reading bytes: as it is on disk, or decompressed.
_Binary = io.BufferedReader | gzip.GzipFile


class Reader:
    """Iterates the raw records of one file; ``total`` is the unit count for a progress bar.

    JSONL comes as ``LineBlock``s (plus ``RawItem`` errors for lines too long to keep in
    memory); CSV and Parquet as decoded ``RawItem``s.
    """

    def __init__(self, path: Path, fmt: str, *, max_record_bytes: int) -> None:
        if not path.exists():
            raise UsageError(f"{path}: no such file")
        if path.is_dir():
            raise UsageError(f"{path}: is a directory, not a file")
        self.path = path
        self.format = fmt
        self.max_record_bytes = max_record_bytes
        self.total = path.stat().st_size
        self.columns: list[str] | None = None

    def __iter__(self) -> Iterator[RawItem | LineBlock]:
        if self.format == "jsonl":
            return self._jsonl()
        if self.format == "csv":
            return self._csv()
        return self._parquet()

    @contextmanager
    def _open_binary(self) -> Iterator[tuple[_Binary, Callable[[int], int]]]:
        """The file's decompressed bytes, and a function from decompressed bytes read to bytes
        read from disk: ``total`` counts bytes on disk, so a compressed file's bar ends at 100%
        too."""
        with self.path.open("rb") as raw:
            if self.path.suffix.lower() != ".gz":
                yield raw, lambda read: read
                return
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped, lambda read: _tell(raw)

    def _damaged(self, exc: Exception, line: int) -> FileProblem:
        """The problem of a gzip stream found damaged (``_GZIP_DAMAGE``) before ``line`` was
        read whole; the lines before it have been handed out already."""
        if isinstance(exc, EOFError):
            before = f"after line {line - 1}" if line > 1 else "before the end of line 1"
            return FileProblem(
                f"{self.path}: line {line}: the gzip stream ends early, {before} "
                "(the file is cut short)"
            )
        return FileProblem(f"{self.path}: line {line}: not a readable gzip file ({exc})")

    def _jsonl(self) -> Iterator[RawItem | LineBlock]:
        limit = self.max_record_bytes
        with self._open_binary() as (fh, on_disk):
            number = 1  # of the first line in ``carry``
            skipping = False  # inside a line already reported as too long
            try:
                head = fh.read(3)
                consumed = len(head)
                carry = b"" if head == b"\xef\xbb\xbf" else head  # a UTF-8 byte order mark
                for data in _blocks(fh, BLOCK_BYTES):
                    consumed += len(data)
                    if skipping:
                        end = data.find(b"\n")
                        if end < 0:
                            continue
                        skipping, data, number = False, data[end + 1 :], number + 1
                    buffer = carry + data if carry else data
                    cut = buffer.rfind(b"\n") + 1
                    if cut:
                        yield LineBlock(
                            number, buffer[: cut - 1], on_disk(consumed - len(buffer) + cut)
                        )
                        number += buffer.count(b"\n", 0, cut)
                    carry = buffer[cut:]
                    if len(carry) > limit:  # a line longer than any record may be: never hold it
                        yield RawItem(f"line {number}", None, _too_long(limit), on_disk(consumed))
                        carry, skipping = b"", True
            except _GZIP_DAMAGE as exc:  # ``carry`` is the start of a line the damage cut
                raise self._damaged(exc, number) from None
            if carry:
                yield LineBlock(number, carry, on_disk(consumed))

    def _csv(self) -> Iterator[RawItem]:
        csv.field_size_limit(self.max_record_bytes)
        with self._open_binary() as (raw, on_disk):
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")
            reader = csv.reader(text)
            try:
                header = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise FileProblem(f"{self.path}: line 1: unreadable CSV header: {exc}") from None
            except _GZIP_DAMAGE as exc:
                raise self._damaged(exc, 1) from None
            header = [h.strip() for h in header]
            self.columns = header
            if len(set(header)) != len(header) or any(not h for h in header):
                raise FileProblem(
                    f"{self.path}: line 1: the CSV header has empty or repeated column names: "
                    f"{header!r}"
                )
            while True:
                # A quoted value may span lines, and ``line_num`` is then the record's last line:
                # a record is named by the line it starts on, where a reader looks for it.
                location = f"line {reader.line_num + 1}"
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error as exc:
                    yield RawItem(location, None, f"unreadable CSV row: {exc}", on_disk(_tell(raw)))
                    continue
                except _GZIP_DAMAGE as exc:
                    raise self._damaged(exc, reader.line_num + 1) from None
                if not row or all(not cell for cell in row):
                    continue
                if len(row) > len(header):
                    yield RawItem(
                        location,
                        None,
                        f"{len(row)} values but the header has {len(header)} columns",
                        on_disk(_tell(raw)),
                    )
                    continue
                yield RawItem(
                    location, dict(zip(header, row, strict=False)), None, on_disk(_tell(raw))
                )

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


#: What reading a damaged gzip stream raises: cut short (EOFError), not gzip at all or failing its
#: checksum (BadGzipFile), corrupt inside (zlib.error).
_GZIP_DAMAGE = (EOFError, gzip.BadGzipFile, zlib.error)
#: Decompressed bytes asked of a gzip stream at a time (see ``_blocks``): small enough that a
#: corrupt spot costs at most a few records before it, large enough to cost no speed.
GZIP_STEP = 8 * 1024


def _blocks(fh: _Binary, size: int) -> Iterator[bytes]:
    """``fh`` in blocks of ``size`` bytes (the last one shorter); a read error comes after the
    bytes read before it.

    Blocks are gathered with ``read1``, not ``read``: ``GzipFile.read(size)`` throws away what
    it has already decompressed of the block when the stream turns out damaged, which would
    lose up to a megabyte of good lines before the damage. A ``read1`` that fails loses what it
    had decompressed too, so from a gzip stream it asks for ``GZIP_STEP`` bytes at a time: at
    most that much of the good data before a corrupt spot is lost.
    """
    step = GZIP_STEP if isinstance(fh, gzip.GzipFile) else size
    while True:
        parts: list[bytes] = []
        got = 0
        try:
            while got < size and (part := fh.read1(min(step, size - got))):
                parts.append(part)
                got += len(part)
        except _GZIP_DAMAGE:
            if parts:
                yield b"".join(parts)
            raise
        if not parts:
            return
        yield b"".join(parts)


def _tell(fh: io.IOBase) -> int:
    """Position in ``fh``, or 0 where it cannot tell (progress only: never worth an error)."""
    try:
        return fh.tell()
    except (OSError, ValueError):
        return 0
