"""The ingest request envelope: one record object, or ``{"records": [...]}``.

Bodies are parsed here rather than by a FastAPI body model on purpose: a model would answer a
bad record with FastAPI's own 422 and refuse the whole request, while ingest reports every
rejected record with its position and stores the others. So this module only checks the
envelope (JSON, object or batch, size) and hands the records, unvalidated, to the Ingestor.
Because the body is read by hand, ``request_body_doc`` puts its shape back into OpenAPI.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import HTTPException, Request, status
from msgspec import Struct

from evalkit.capture.validate import input_schema

#: Records per request; a client with more splits them into several requests.
MAX_BATCH = 1000

SHAPE = 'send one record object or {"records": [...]}'


async def records_body(request: Request) -> list[Any]:
    """The records of the request body, in order; 400/413 when the envelope is wrong."""
    raw = await _body_within(request, request.app.state.settings.max_request_bytes)
    if not raw.strip():
        raise _bad(f"the request body is empty; {SHAPE}")
    try:
        payload = json.loads(raw, parse_constant=_no_constant)
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, NaN/Infinity
        raise _bad(f"the request body is not valid JSON ({exc}); {SHAPE}") from None
    return records_of(payload)


async def _body_within(request: Request, limit: int) -> bytes:
    """The body, refused (413) as soon as it is known to exceed ``limit`` bytes: from its
    Content-Length before reading, or while streaming a body sent without one."""
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


def records_of(payload: Any) -> list[Any]:
    """``{...}`` → ``[{...}]``; ``{"records": [...]}`` → the list; anything else is a 400."""
    if not isinstance(payload, dict):
        hint = '; wrap a list of records as {"records": [...]}' if isinstance(payload, list) else ""
        raise _bad(f"expected a JSON object, got {_json_type(payload)}: {SHAPE}{hint}")
    if "records" not in payload:
        return [payload]
    extra = sorted(set(payload) - {"records"})
    if extra:
        raise _bad(
            f"a batch is {{\"records\": [...]}} alone; unexpected key(s) beside 'records': "
            f"{', '.join(extra)} (options go in the query string, e.g. ?strict=true)"
        )
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


def request_body_doc(shape: type[Struct], example: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting the envelope around ``shape`` (the accepted record shape)."""
    one = _inline_refs(input_schema(shape))
    batch = {
        "title": f"{shape.__name__} batch",
        "type": "object",
        "properties": {"records": {"type": "array", "items": one, "maxItems": MAX_BATCH}},
        "required": ["records"],
        "additionalProperties": False,
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [one, batch]},
                    "examples": {
                        "one": {"summary": "One record", "value": example},
                        "batch": {
                            "summary": f"A batch (at most {MAX_BATCH} records)",
                            "value": {"records": [example]},
                        },
                    },
                }
            },
        }
    }


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    # JSON Schema generators put nested types in "$defs"; OpenAPI would resolve "#/$defs/..."
    # against the
    # whole document, so the (few, small) definitions are inlined instead.
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(schema)


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


def ingest_answers_doc() -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of an ingest route: every status it can answer, with its body."""
    from evalkit.api.schemas import IngestResult, Problem

    return {
        200: {"model": IngestResult, "description": "Every record was already stored."},
        422: {
            "model": IngestResult,
            "description": "Some records were rejected (see `errors`); without `strict` the "
            "others were stored.",
        },
        400: {
            "model": Problem,
            "description": 'The body is not JSON, not a record object, or not {"records": [...]}.',
        },
        401: {"model": Problem, "description": "Missing or wrong bearer token."},
        413: {
            "model": Problem,
            "description": f"More than {MAX_BATCH} records, or a body over "
            "EVALKIT_MAX_REQUEST_BYTES.",
        },
        503: {"model": Problem, "description": "The store cannot be reached."},
    }
