"""Structured-output assertions: the output parses as JSON and, optionally, fits a schema."""

from __future__ import annotations

from typing import Any

import orjson

from evalkit.gate.registry import Check, Outcome, assertion, failed, passed


def _schema(value: Any) -> Any:
    """Check a JSON Schema once, when the suite loads; ``None`` means "parses" only."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("expected a JSON Schema (a mapping) or nothing")
    from jsonschema import exceptions, validators

    cls = validators.validator_for(value)
    try:
        cls.check_schema(value)
    except exceptions.SchemaError as exc:
        raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
    return cls(value)


def _strip_fence(text: str) -> str:
    """Models often wrap JSON in a Markdown fence; the JSON inside is what a parser gets."""
    body = text.strip()
    if body.startswith("```"):
        first_newline = body.find("\n")
        if first_newline >= 0 and body.endswith("```"):
            return body[first_newline + 1 : -3].strip()
    return body


@assertion("json", prepare=_schema)
def json_output(check: Check) -> Outcome:
    """Passes when the output parses as JSON (a Markdown code fence around it is allowed) and,
    when `value` holds a JSON Schema, validates against it; the reason names the first
    violation and where it is."""
    try:
        data = orjson.loads(_strip_fence(check.output))
    except orjson.JSONDecodeError as exc:
        return failed(f"not valid JSON: {exc}")
    if check.value is None:
        return passed("valid JSON")
    error = next(iter(check.value.iter_errors(data)), None)
    if error is None:
        return passed("valid JSON matching the schema")
    where = "/".join(str(p) for p in error.absolute_path) or "(root)"
    return failed(f"JSON does not match the schema at {where}: {error.message}")
