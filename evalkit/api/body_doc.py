"""The ingest routes' request body and answers in OpenAPI, as the server reads them.

``api.body`` reads bodies by hand (see there why), so FastAPI cannot derive their schema; this
module writes it from the accepted record shapes (``capture.validate``), widened to what the
server takes (``as_accepted``), and lists every status an ingest route answers.
``tests/api/test_openapi_contract.py`` runs Schemathesis against the result.
"""

from __future__ import annotations

from typing import Any

from msgspec import Struct

from evalkit.api.body import MAX_BATCH
from evalkit.capture.validate import input_schema


def request_body_doc(shape: type[Struct], example: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` documenting the envelope around ``shape`` (the accepted record shape)."""
    one = as_accepted(_inline_refs(input_schema(shape)))
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


#: Text of any kind: neither store keeps a NUL character.
_NO_NUL = "^[^\\u0000]*$"
#: A JSON number written as text, as a CSV cell (or a log that quoted it) carries one.
_NUMBER_TEXT = r"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
_INTEGER_TEXT = r"^-?(0|[1-9][0-9]*)(\.0+)?([eE][+]?[0-9]+)?$"
_TIMESTAMP = {
    "anyOf": [
        {"type": "string", "format": "date-time"},
        {"type": "string", "format": "date"},
        # naive (UTC) or with a space for the T: what logs write and msgspec reads
        {"type": "string", "pattern": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}"},
        {"type": "number"},
        {"type": "string", "pattern": r"^[0-9]{1,16}(\.[0-9]+)?$"},
    ],
    "description": "ISO 8601 (naive = UTC; a date alone = its midnight UTC), or epoch "
    "seconds or milliseconds (a number, or digits as text).",
}


def as_accepted(schema: dict[str, Any]) -> dict[str, Any]:
    """The record schema as the server reads records, not only as validation types them, so a
    client generated from the spec sends nothing it refuses and refuses nothing it takes:

    - ``null`` or ``""`` for any field but the required ones means "not given" (a JSON log's
      habit, a blank CSV cell);
    - an empty ``id`` counts as none (a blank CSV cell), and the id is derived from the content;
    - numbers may come as text (``"12.5"``), as CSV cells do; a count as ``"7"`` or ``7.0``;
    - ``created_at`` takes epoch seconds or milliseconds and dates alone besides ISO 8601;
    - ``metadata`` may be text holding a JSON object; ``context`` a list of passages;
    - text may not hold NUL, which neither store keeps.
    """
    required = set(schema.get("required", ()))
    properties = {}
    for name, declared in schema["properties"].items():
        field = {k: v for k, v in declared.items() if k in ("description", "title", "enum")}
        if "enum" in field:
            properties[name] = field
            continue
        options = [o for o in declared.get("anyOf", [declared]) if o.get("type") != "null"]
        options = [{k: v for k, v in o.items() if k != "default"} for o in options]
        if name == "id":
            options = [{k: v for k, v in o.items() if k != "minLength"} for o in options]
            field["description"] = "Empty or absent: derived from the content."
        elif name == "metadata":
            options = [
                {"type": "object"},
                {"type": "string", "contentMediaType": "application/json"},
            ]
        elif name == "context":
            options = [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
        has_text = any(o.get("type") == "string" for o in options)
        options = [form for o in options for form in _with_text_forms(o, has_text)]
        if name == "created_at":
            options, field["description"] = list(_TIMESTAMP["anyOf"]), _TIMESTAMP["description"]
        if name not in required:
            options.append({"type": "null"})
            if not any(o.get("pattern") == _NO_NUL and not o.get("minLength") for o in options):
                options.append({"type": "string", "maxLength": 0})  # a blank CSV cell
        properties[name] = (
            {**field, "anyOf": options} if len(options) > 1 else {**field, **options[0]}
        )
    return {**schema, "properties": properties}


def _with_text_forms(option: dict[str, Any], has_text: bool) -> list[dict[str, Any]]:
    """``option`` with the text the server reads as the same value (unless text is an option
    already), and strings without NUL."""
    kind = option.get("type")
    if kind == "string" and "pattern" not in option and "format" not in option:
        return [{**option, "pattern": _NO_NUL}]
    if has_text:
        return [option]
    if kind == "number":
        return [option, {"type": "string", "pattern": _NUMBER_TEXT}]
    if kind == "integer":
        return [option, {"type": "string", "pattern": _INTEGER_TEXT}]
    return [option]


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
            "description": "The body is empty, not UTF-8, not JSON, nested too deeply to read, "
            'or neither a record object nor {"records": [...]}.',
        },
        401: {"model": Problem, "description": "Missing or wrong bearer token."},
        413: {
            "model": Problem,
            "description": f"More than {MAX_BATCH} records, or a body over "
            "EVALKIT_MAX_REQUEST_BYTES.",
        },
        415: {
            "model": Problem,
            "description": "The Content-Type is not JSON (application/json) or not UTF-8.",
        },
        503: {"model": Problem, "description": "The store cannot be reached or written."},
    }
