"""Whole expected bodies of the API's answers, with the zero defaults spelled once."""

from __future__ import annotations

from typing import Any

SHAPE = 'send one record object or {"records": [...]}'


def ingest_body(
    stored: int = 0,
    duplicates: int = 0,
    rejected: int = 0,
    ids: list[str | None] | tuple[str | None, ...] = (),
    errors: list[dict[str, Any]] | tuple[dict[str, Any], ...] = (),
    redactions: dict[str, int] | None = None,
) -> dict[str, Any]:
    return {
        "stored": stored,
        "duplicates": duplicates,
        "rejected": rejected,
        "ids": list(ids),
        "errors": list(errors),
        "redactions": redactions or {},
    }


def error(index: int, field: str | None, message: str, id: str | None = None) -> dict[str, Any]:
    """One entry of ``errors``: ``index`` is 0-based, ``location`` says the same 1-based."""
    return {
        "index": index,
        "location": f"record {index + 1}",
        "field": field,
        "id": id,
        "message": message,
    }
