"""What every kind of input record shares on its way to a domain record.

Responses (``response``) and feedback (``feedback``) come from the same
files, requests and SDK calls, so they get one normalisation (empty CSV cells, epoch, naive and
date-only timestamps, metadata given as JSON text, RAG context lists), one storability check
(length, NUL, UTF-8, NaN, non-JSON values) and one wording of msgspec's errors. A cell or a
timestamp then means the same in every kind of file, and every problem reads alike and names
its field.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Annotated, Any, TypeVar

import msgspec
import orjson

from evalkit.records import FeedbackKind


class FieldProblem(Exception):
    """One field of one record is wrong; ``capture`` attaches the record's location."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Limits:
    """Bounds taken from settings (``EVALKIT_MAX_FIELD_CHARS``), the same for every kind."""

    max_field_chars: int


# The accepted shapes are msgspec structs: ingest validates tens of thousands of records a
# second, and msgspec checks a record's types and bounds in one pass in C (about 4 µs, against
# about 25 µs for the same pydantic model). Unknown fields are not errors; they go to metadata.
# Bounds match the store's columns (``store.tables``), so whatever validates can be stored.
Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
Name = Annotated[str, msgspec.Meta(max_length=128)]
Long = Annotated[str, msgspec.Meta(max_length=256)]
NonNegative = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]  # a 4-byte INTEGER column
Probability = Annotated[float, msgspec.Meta(ge=0, le=1)]


def input_schema(shape: type[msgspec.Struct]) -> dict[str, Any]:
    """JSON Schema of an accepted shape, for the HTTP API's documentation."""
    schema: dict[str, Any] = msgspec.json.schema(shape)
    return schema


def content_hash(payload: Mapping[str, Any]) -> str:
    """sha256 of a record's content, independent of key order."""
    try:
        blob = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits: rare, so the slow canonical form is fine
        blob = json.dumps(payload, sort_keys=True, default=str, separators=(",", ":")).encode()
    return hashlib.sha256(blob).hexdigest()


def prepare_input(
    raw: Mapping[str, Any], limits: Limits, text_fields: tuple[str, ...]
) -> dict[str, Any]:
    """Normalize the input forms logs come in, then check what no store could hold."""
    # An empty CSV cell or a JSON null means "not given", except where "" is a real value.
    data = {
        k: v for k, v in raw.items() if v is not None and (v != "" or k in ("prompt", "response"))
    }
    stamp = data.get("created_at")
    if isinstance(stamp, str) and _EPOCH_TEXT.fullmatch(stamp):  # a CSV cell, or quoted JSON
        stamp = float(stamp)
    elif isinstance(stamp, str) and _DATE_TEXT.fullmatch(stamp):
        stamp = _date_or_text(stamp)
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        data["created_at"] = _from_epoch(stamp)
    elif isinstance(stamp, datetime):
        data["created_at"] = utc(stamp)
    elif isinstance(stamp, date):  # a day alone (a date column, "2026-11-02"): its midnight, UTC
        data["created_at"] = datetime(stamp.year, stamp.month, stamp.day, tzinfo=UTC)
    metadata = data.get("metadata")
    if isinstance(metadata, str):  # a CSV cell, or a log that wrote the object as a string
        data["metadata"] = _object_from_text(metadata)
    context = data.get("context")
    if isinstance(context, list) and all(isinstance(v, str) for v in context):
        # RAG logs often keep retrieved passages as a list: store one text, blank-line separated.
        data["context"] = "\n\n".join(context)
    try:
        _check_text(data, limits, text_fields)
    except RecursionError:
        raise FieldProblem(None, "nested too deeply to store") from None
    return data


_EPOCH_TEXT = re.compile(r"[0-9]{1,16}(?:\.[0-9]+)?")
#: ISO-8601's calendar date only: ``date.fromisoformat`` would take week dates and ``20261102``.
_DATE_TEXT = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _date_or_text(text: str) -> date | str:
    """The date ``text`` names, or ``text`` itself (``2026-13-01``) for msgspec to refuse in
    the same words as any other timestamp that is not one."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        return text


def _object_from_text(text: str) -> dict[str, Any]:
    """The metadata object that ``text`` holds as JSON; a CSV cell can carry no other kind.

    Parsed before the storability check, so the object's values (NaN, NUL, invalid UTF-8) are
    checked like those of an object given as such.
    """
    want = "expected an object, or text holding a JSON object"
    try:
        value = json.loads(text)
    except RecursionError:
        raise FieldProblem("metadata", f"{want}; got text nested too deeply") from None
    except json.JSONDecodeError as exc:
        raise FieldProblem(
            "metadata", f"{want}; got text that is not JSON ({exc.msg} at column {exc.colno})"
        ) from None
    except ValueError as exc:  # e.g. an integer of thousands of digits
        raise FieldProblem("metadata", f"{want}; got text that is not JSON ({exc})") from None
    if type(value) is not dict:
        raise FieldProblem("metadata", f"{want}; got text holding {_kind_word(value)}")
    return value


def _from_epoch(value: float) -> datetime:
    if not math.isfinite(value):
        raise FieldProblem("created_at", f"{value} is not a timestamp")
    # Epoch milliseconds are common in logs; seconds stop making sense past year 5000.
    try:
        return datetime.fromtimestamp(value / 1000 if value > 1e11 else value, tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise FieldProblem("created_at", f"{value} is out of range for a timestamp") from None


def utc(value: datetime) -> datetime:
    """Naive timestamps in logs are UTC by convention; aware ones are converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:59-05:00 is past the largest datetime in UTC
        raise FieldProblem("created_at", "out of range once converted to UTC") from None


_S = TypeVar("_S", bound=msgspec.Struct)


def convert_input(data: dict[str, Any], shape: type[_S]) -> _S:
    """``data`` (from ``prepare_input``) as ``shape``; msgspec's error reworded as ours."""
    # Metadata is free JSON, checked by ``_check_text``; msgspec would turn integers beyond
    # 64 bits into floats, so it does not see it.
    metadata = data.get("metadata")
    if metadata is not None and type(metadata) is not dict:
        raise FieldProblem("metadata", f"expected an object, got {_kind_word(metadata)}")
    fields = {k: v for k, v in data.items() if k != "metadata"} if metadata is not None else data
    try:
        # strict=False: the coercions a CSV needs ("12.5" is a number, "7" a count).
        parsed = msgspec.convert(fields, shape, strict=False)
    except msgspec.ValidationError as exc:
        raise _problem(str(exc), data) from None
    # That coercion also reads "inf" and "1e999" as infinity, which passes ``ge=0`` but is no
    # latency or cost, and PostgreSQL's JSON would refuse it; a float given as such is already
    # refused by ``_check_text``, so only text can get here.
    for name, value in fields.items():
        if type(value) is str:
            number = getattr(parsed, name, None)
            if type(number) is float and not math.isfinite(number):
                raise FieldProblem(name, f"expected a finite number (got {value[:60]!r})")
    return parsed


def collect_metadata(
    data: Mapping[str, Any], known: frozenset[str], explicit: dict[str, Any] | None
) -> dict[str, Any]:
    """Unknown fields are kept, never dropped: they and the record's own metadata, which wins."""
    extra = {k: v for k, v in data.items() if k not in known}
    if explicit:
        extra.update(explicit)
    return extra


def _check_text(data: dict[str, Any], limits: Limits, fields: tuple[str, ...]) -> None:
    """Bounds, encoding and storability of every value, before type validation.

    Both stores must accept whatever passes here: PostgreSQL refuses NUL characters in text and
    NaN in JSON, and no store can hold a Python object that is not JSON. Dates inside objects
    (Parquet timestamps, SDK callers) become ISO text. ``data`` is the caller's own copy and is
    updated in place; nested containers are copied only when something in them changes.
    """
    for name, value in data.items():
        if not name.isascii() or "\x00" in name:
            _check_str(f"{name!r} (a field name)", name)
        kind = type(value)
        if kind is int or kind is bool:
            continue
        if kind is str:
            if name in fields and len(value) > limits.max_field_chars:
                raise FieldProblem(
                    name,
                    f"{len(value):,} characters, over the limit of {limits.max_field_chars:,} "
                    "(EVALKIT_MAX_FIELD_CHARS)",
                )
            _check_str(name, value)
        elif name == "created_at" and isinstance(value, datetime):
            continue
        else:
            converted = _storable(name, value)
            if converted is not value:
                data[name] = converted


def _check_str(name: str, value: str) -> None:
    if "\x00" in value:
        raise FieldProblem(name, f"NUL character at position {value.index(chr(0))}")
    if not value.isascii():  # ASCII is valid UTF-8; only other text can hold surrogates
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise FieldProblem(name, f"invalid UTF-8 at character {exc.start}") from None


def _storable(name: str, value: Any) -> Any:
    """``value`` if a store can hold it as JSON, a converted copy for dates; else FieldProblem."""
    kind = type(value)
    if kind is str:
        _check_str(name, value)
    elif kind is float:
        if not math.isfinite(value):
            raise FieldProblem(name, f"{value} is not a storable number")
    elif kind is dict:
        out: dict[str, Any] | None = None
        for key, inner in value.items():
            if type(key) is not str:
                raise FieldProblem(name, f"object keys must be text, got {type(key).__name__}")
            if not key.isascii() or "\x00" in key:
                _check_str(f"{name} (a key)", key)
            inner_kind = type(inner)
            if inner_kind is int or inner_kind is bool or inner is None:
                continue  # the common scalars, without a call
            if inner_kind is str and inner.isascii() and "\x00" not in inner:
                continue
            new = _storable(f"{name}.{key}", inner)
            if new is not inner:
                out = out if out is not None else dict(value)
                out[key] = new
        return value if out is None else out
    elif kind is list:
        items = [_storable(f"{name}[{i}]", inner) for i, inner in enumerate(value)]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    elif kind is bool or kind is int or value is None:
        pass
    elif isinstance(value, date):  # datetime too
        return value.isoformat()
    elif isinstance(value, str | int | float):  # enums and other subclasses: their plain value
        plain = value.value if isinstance(value, Enum) else value
        return _storable(name, (str if isinstance(value, str) else type(plain))(plain))
    elif isinstance(value, Mapping):
        return _storable(name, dict(value))
    else:
        raise FieldProblem(name, f"a {kind.__name__} is not JSON data")
    return value


#: Fields whose rejected input is echoed in messages; text fields are not, as they may hold PII.
_ECHOED = {
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost",
    "confidence",
    "created_at",
    "outcome",
}
_AT = re.compile(r"^(?P<msg>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.S)
_MISSING = re.compile(r"^Object missing required field `(?P<name>[^`]+)`$")
_TYPES = re.compile(r"^Expected `(?P<want>[^`]+)`, got `(?P<got>[^`]+)`$")
_WORDS = {
    "str": "text",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean",
    "object": "an object",
    "array": "a list",
    "datetime": "an ISO-8601 timestamp",
}


def _kind_word(value: Any) -> str:
    """What kind of JSON value ``value`` is, in the words of the error messages."""
    if value is None:
        return "null"
    return _WORDS.get(type(value).__name__.replace("list", "array"), "a value")


def _problem(text: str, data: Mapping[str, Any]) -> FieldProblem:
    """Turn msgspec's message ("Expected `int | null`, got `str` - at `$.x`") into ours."""
    match = _AT.match(text)
    assert match is not None
    msg, path = match["msg"], (match["path"] or "").lstrip(".")
    missing = _MISSING.match(msg)
    if missing:
        return FieldProblem(missing["name"], "required field is missing")
    field = re.sub(r"\[(\d+)\]", r"[\1]", path) or None
    types = _TYPES.match(msg)
    if types:
        wanted = [t for t in types["want"].split(" | ") if t != "null"]
        want = " or ".join(_WORDS.get(t, t) for t in wanted)
        msg = f"expected {want}, got {_WORDS.get(types['got'], types['got'])}"
    elif msg.startswith("Invalid enum value"):
        msg = f"{msg[0].lower()}{msg[1:]}; expected one of " + ", ".join(
            k.value for k in FeedbackKind
        )
    elif msg.startswith("Invalid RFC3339"):
        msg = (
            "expected an ISO-8601 timestamp (e.g. 2026-11-02T10:00:00Z), a date (2026-11-02) "
            "or epoch seconds"
        )
    else:
        msg = msg[0].lower() + msg[1:]
        msg = re.sub(r"expected `str` of length <= (\d+)", r"must be at most \1 characters", msg)
        msg = re.sub(r"expected `str` of length >= 1\b", "must not be empty", msg)
        msg = re.sub(r"expected `(?:float|int)` ", "must be ", msg)
        msg = re.sub(r"(\d)\.0\b", r"\1", msg)
    top = field.split(".", 1)[0] if field else None
    if top in _ECHOED and top in data:
        shown = repr(data[top])
        msg += f" (got {shown[:60] + '…' if len(shown) > 60 else shown})"
    return FieldProblem(field, msg)
