"""Redacting whole records: every text field and every string inside metadata.

``Redactor`` works on one string. A record has three texts and a metadata object of any shape,
and most records hold no PII at all, so the common case is settled by one cheap test of
everything at once (``may_contain_pii``) before any field is looked at one by one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import msgspec
import orjson

from evalkit.capture.redact.redactor import Redactor
from evalkit.records import ResponseRecord

_JSON_KEY = re.compile(r'"[^"]*":')


def add_counts(total: dict[str, int], counts: Mapping[str, int]) -> None:
    for kind, n in counts.items():
        total[kind] = total.get(kind, 0) + n


def redact_record(
    record: ResponseRecord,
    redactor: Redactor,
    counts: dict[str, int],
    metadata_json: str | None = None,
) -> ResponseRecord:
    """``record`` with PII replaced in prompt, context, response and metadata strings.

    Adds what was replaced to ``counts``; returns ``record`` itself when nothing was.
    ``metadata_json`` is the metadata as JSON when the caller has it already.
    """
    if not may_contain_pii(record, redactor, metadata_json):
        return record
    update: dict[str, Any] = {}
    for name in ("prompt", "context", "response"):
        value = getattr(record, name)
        if value:
            text, found = redactor.redact(value)
            if found:
                update[name] = text
                add_counts(counts, found)
    if record.metadata:
        metadata = redact_nested(record.metadata, redactor, counts)
        if metadata is not record.metadata:
            update["metadata"] = metadata
    return msgspec.structs.replace(record, **update) if update else record


def may_contain_pii(
    record: ResponseRecord, redactor: Redactor, metadata_json: str | None = None
) -> bool:
    """Whether any text of the record may need redacting, by one test of all of it at once.

    ``Redactor.may_contain`` is False for a text only if it is False for every part of it, so
    the texts are joined and tested together, metadata included as JSON. In JSON without
    escapes every ``"`` delimits a string, so each string value appears verbatim and a string
    followed by ``:`` is a key. Keys are never redacted, and their colons and underscores
    ("session_id": ...) would wake the key-value and vendor-key tests on every record, so they
    are cut out first. JSON with escapes is walked instead.
    """
    blob = ""
    if record.metadata:
        if metadata_json is not None:
            blob = metadata_json
        else:
            try:
                blob = orjson.dumps(record.metadata).decode()
            except TypeError:  # integers beyond 64 bits, nesting deeper than orjson goes
                return True
        if "\\" in blob:
            return True
        blob = _JSON_KEY.sub("", blob)
    text = "\n".join((record.prompt, record.context or "", record.response, blob))
    return redactor.may_contain(text)


def redact_nested(value: Any, redactor: Redactor, totals: dict[str, int]) -> Any:
    """Redact every string inside a JSON value; containers are copied only if one changes."""
    kind = type(value)
    if kind is str:
        text, counts = redactor.redact(value)
        if not counts:
            return value
        add_counts(totals, counts)
        return text
    if kind is dict:
        out = None
        for key, inner in value.items():
            new = redact_nested(inner, redactor, totals)
            if new is not inner:
                out = out if out is not None else dict(value)
                out[key] = new
        return value if out is None else out
    if kind is list:
        items = [redact_nested(v, redactor, totals) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value
