"""A shortcut for the common JSONL line: decode and validate it in one pass, in C.

``parse_response`` takes any mapping (CSV rows, SDK dicts, mapped columns) and spends about
30 µs a record in Python normalising and checking it. A JSONL line from a service that logs
evalkit's own field names needs none of that: msgspec can decode the bytes straight into
``ResponseInput`` with every type and bound checked. This module does that, and gives up
(returns ``None``) whenever the line is anything but the plain case, so that the careful path
decides, and words the error, exactly as before:

- a field evalkit does not know (it belongs in metadata: only the careful path moves it there);
- any value the strict decoder refuses (wrong type, out of bounds, text where a number belongs,
  epoch timestamps, a date without a time, ``context`` given as a list, ``metadata`` given as
  JSON text, ``null`` where text is required);
- an empty string, which the careful path reads as "not given";
- an escaped NUL or surrogate (``\\u0000``, ``\\ud800``), text over ``max_field_chars``;
- metadata that ``orjson`` cannot serialise (integers beyond 64 bits, nesting deeper than 255).

What it accepts, it turns into exactly the record ``parse_response`` would (same fields, id and
content hash), which a property test checks on generated lines.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
import orjson

from evalkit.capture.validate import FieldProblem, Limits, ResponseInput, response_record
from evalkit.records import ResponseRecord


class _KnownFieldsOnly(ResponseInput, forbid_unknown_fields=True):
    pass


_decode = msgspec.json.Decoder(_KnownFieldsOnly).decode

#: Escapes the careful path must see: NUL, which no store keeps, and UTF-16 surrogates.
_ESCAPES = (b"\\u0000", b"\\ud", b"\\uD")


def fast_parse_response(
    line: bytes, *, received_at: datetime, limits: Limits
) -> ResponseRecord | None:
    """The record for a plain JSONL line, or ``None``: take the careful path."""
    if b"\\u" in line and any(escape in line for escape in _ESCAPES):
        return None
    try:
        parsed = _decode(line)
    except (msgspec.DecodeError, UnicodeDecodeError, RecursionError):
        return None
    cap = limits.max_field_chars
    if (
        len(parsed.response) > cap
        or len(parsed.prompt) > cap
        or (parsed.context is not None and len(parsed.context) > cap)
    ):
        return None
    if "" in (
        parsed.context,
        parsed.tenant,
        parsed.model_id,
        parsed.model_version,
        parsed.prompt_version,
        parsed.intent,
        parsed.user_segment,
        parsed.outcome,
    ):
        return None
    metadata: dict[str, Any] = parsed.metadata if parsed.metadata is not None else {}
    if metadata:
        try:  # the careful path refuses what is nested too deeply to store
            orjson.dumps(metadata)
        except orjson.JSONEncodeError:
            return None
    try:
        return response_record(parsed, metadata, received_at)
    except FieldProblem:  # a timestamp out of range once in UTC: let the careful path say so
        return None
