"""The JSON request body, and the ingest envelope: one record object, or ``{"records": [...]}``.

Bodies are parsed here rather than by a FastAPI body model on purpose: a model would answer a
bad record with FastAPI's own 422 and refuse the whole request, while ingest reports every
rejected record with its position and stores the others. So this module only checks the body
(content type, size, UTF-8, JSON, nesting) and the envelope (object or batch, batch size) and
hands the records, unvalidated, to the Ingestor. Because the body is read by hand,
``api.body_doc`` puts its shape back into OpenAPI.

``json_body`` is the part every JSON-reading route shares (the review queue's routes too): each
way a body can be unreadable is a 4xx with a message, never a 500.

The envelope is unambiguous: a batch is an object whose only key is ``records``. Any other
object is one record, so a record may have a field named ``records`` (kept in metadata, like
every unknown field) as long as it has other fields too, as every record has (``response``).
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from fastapi import HTTPException, Request, status
from msgspec import Struct

#: Records per request; a client with more splits them into several requests.
MAX_BATCH = 1000

SHAPE = 'send one record object or {"records": [...]}'

#: The fast decoder: most bodies are plain JSON, read in C. Anything it refuses is read again by
#: ``_careful_json`` to say precisely what is wrong (or to pass on text validation names).
_decode = msgspec.json.Decoder().decode

_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


async def records_body(request: Request) -> list[Any]:
    """The records of the request body, in order; 400/413/415 when the body or envelope is wrong.

    Each record that is an object comes as its undecoded JSON text (bytes), cut out of the body,
    so ingest validates it in one pass as it does a JSONL line instead of field by field from a
    dict (measured: several times less CPU per record); the body was already read as a whole
    to check it is JSON, and other records stay decoded values for ingest to refuse.
    """
    raw = await _body_within(request, request.app.state.settings.max_request_bytes, checked=True)
    payload = _decoded(raw, SHAPE)
    records = records_of(payload)
    return _undecoded(raw, payload, records)


class _Batch(Struct):
    records: list[msgspec.Raw]


_cut_batch = msgspec.json.Decoder(_Batch).decode


def _undecoded(raw: bytes, payload: Any, records: list[Any]) -> list[Any]:
    if not _is_batch(payload):
        return [raw] if isinstance(payload, dict) else records
    try:
        cut = _cut_batch(raw).records
    except (msgspec.DecodeError, RecursionError):  # read by json, not msgspec: keep its values
        return records
    if len(cut) != len(records):  # a repeated "records" key: the values json kept are the truth
        return records
    return [
        bytes(text) if isinstance(value, dict) else value
        for text, value in zip(cut, records, strict=True)
    ]


async def json_body(request: Request, *, shape: str) -> Any:
    """The request body as JSON; a 4xx with a message (ending in ``shape``, what to send) when
    it is not a JSON content type (415), too large (413), empty, not UTF-8, not JSON, or nested
    too deeply to read (400)."""
    raw = await _body_within(request, request.app.state.settings.max_request_bytes, checked=True)
    return _decoded(raw, shape)


def _decoded(raw: bytes, shape: str) -> Any:
    if not raw.strip():
        raise _bad(f"the request body is empty; {shape}")
    try:
        return _decode(raw)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return _careful_json(raw, shape)


def _check_content_type(header: str | None) -> None:
    """JSON, in UTF-8: ``application/json`` or a ``+json`` type. No header at all is read as
    JSON (a hand-written client often leaves it out); anything else is a 415."""
    if header is None:
        return
    kind, _, params = header.partition(";")
    kind = kind.strip().lower()
    if kind != "application/json" and not (
        kind.startswith("application/") and kind.endswith("+json")
    ):
        raise HTTPException(
            status_code=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
            detail=f"the request body must be JSON (Content-Type: application/json), "
            f"got Content-Type {header!r}",
        )
    for param in params.split(";"):
        name, _, value = param.partition("=")
        charset = value.strip().strip('"').lower()
        if name.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise HTTPException(
                status_code=status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                detail=f"the request body must be UTF-8 JSON, got charset {charset!r}",
            )


def _careful_json(raw: bytes, shape: str) -> Any:
    """The slow path for a body the fast decoder refused: the exact reason as a 400, or the
    value when the body is JSON after all (lone surrogate escapes, numbers beyond a double,
    which validation then names by record and field)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(_not_utf8(raw, exc, shape)) from None
    try:
        return json.loads(text, parse_constant=_no_constant)
    except RecursionError:
        raise _bad(f"the request body is nested too deeply to read; {shape}") from None
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, integers of thousands of digits
        raise _bad(f"the request body is not valid JSON ({exc}); {shape}") from None


def _not_utf8(raw: bytes, exc: UnicodeDecodeError, shape: str) -> str:
    """Where the body stops being UTF-8: the byte, and the record (and field) it falls in."""
    if raw.startswith(_UTF16_BOMS):
        return (
            "the request body is not UTF-8: it starts with a UTF-16 byte-order mark; "
            f"send UTF-8 JSON ({shape})"
        )
    where = f"byte 0x{raw[exc.start]:02x} at offset {exc.start}"
    record = _record_holding_bad_bytes(raw)
    return f"the request body is not valid UTF-8 ({where}{record}); send UTF-8 JSON"


def _record_holding_bad_bytes(raw: bytes) -> str:
    # Decoded with surrogate escapes, the bad bytes become characters U+DC80..U+DCFF, so the
    # record holding one can be found (a "\\udc80" escape in the JSON text looks the same, and
    # is no more storable). Best effort: a body that is no JSON even so names no record.
    try:
        payload = json.loads(raw.decode("utf-8", "surrogateescape"), parse_constant=_no_constant)
        return _first_holding(payload)
    except (ValueError, RecursionError):
        return ""


def _first_holding(payload: Any) -> str:
    records = payload.get("records") if _is_batch(payload) else [payload]
    if not isinstance(records, list):
        return ""
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            continue
        for key, value in record.items():
            if _holds_escaped_bytes(key) or _holds_escaped_bytes(value):
                rid = record.get("id")
                named = (
                    f", id {rid!r}"
                    if isinstance(rid, str) and not _holds_escaped_bytes(rid)
                    else ""
                )
                field = repr(key) if not _holds_escaped_bytes(key) else "a field name"
                return f", in record {index + 1} (index {index}{named}), field {field}"
    return ""


def _holds_escaped_bytes(value: Any) -> bool:
    if isinstance(value, str):
        return any("\udc80" <= ch <= "\udcff" for ch in value)
    if isinstance(value, dict):
        return any(_holds_escaped_bytes(k) or _holds_escaped_bytes(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_escaped_bytes(v) for v in value)
    return False


async def _body_within(request: Request, limit: int, *, checked: bool = False) -> bytes:
    """The body, refused (413) as soon as it is known to exceed ``limit`` bytes: from its
    Content-Length before reading, or while streaming a body sent without one. ``checked``:
    after its Content-Type (415), without a UTF-8 byte-order mark."""
    if checked:
        _check_content_type(request.headers.get("content-type"))
        body = await _body_within(request, limit)
        # RFC 8259 lets a parser ignore the mark; some Windows tools add it.
        return body[len(_UTF8_BOM) :] if body.startswith(_UTF8_BOM) else body
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    parts: list[bytes] = []
    size = 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise _too_large(size, limit)
        parts.append(part)
    return b"".join(parts)


def _too_large(size: int, limit: int) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        detail=f"the request body is over {limit:,} bytes (at least {size:,}); split it into "
        "several requests (EVALKIT_MAX_REQUEST_BYTES sets the limit)",
    )


def _is_batch(payload: Any) -> bool:
    """A batch is an object with the one key ``records``; any other object is one record."""
    return isinstance(payload, dict) and len(payload) == 1 and "records" in payload


def records_of(payload: Any) -> list[Any]:
    """``{"records": [...]}`` (that key alone) → the list; any other object ``{...}`` →
    ``[{...}]``; anything else is a 400."""
    if not isinstance(payload, dict):
        hint = '; wrap a list of records as {"records": [...]}' if isinstance(payload, list) else ""
        raise _bad(f"expected a JSON object, got {_json_type(payload)}: {SHAPE}{hint}")
    if not _is_batch(payload):
        return [payload]
    records = payload["records"]
    if not isinstance(records, list):
        raise _bad(f"'records' must be an array of record objects, got {_json_type(records)}")
    if len(records) > MAX_BATCH:
        raise HTTPException(
            status_code=status.HTTP_413_CONTENT_TOO_LARGE,
            detail=f"a batch holds at most {MAX_BATCH} records, this one has {len(records)}; "
            "split it into several requests",
        )
    return records


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _bad(detail: str) -> HTTPException:
    return HTTPException(status_code=status.HTTP_400_BAD_REQUEST, detail=detail)
