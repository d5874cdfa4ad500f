"""``/v1/responses``: store production responses, read one back."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel

from evalkit.api.auth import require_token
from evalkit.api.body import records_body
from evalkit.api.body_doc import ingest_answers_doc, request_body_doc
from evalkit.api.deps import get_db, get_prepare_pool, get_settings
from evalkit.api.schemas import IngestResult, Problem, ResponseOut, ingest_request
from evalkit.capture.parallel import SharedPool
from evalkit.capture.validate import ResponseInput
from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.store.queries import get_response

router = APIRouter(
    prefix="/v1/responses", tags=["responses"], dependencies=[Depends(require_token)]
)

EXAMPLE = {
    "id": "resp-0001",
    "created_at": "2026-11-02T10:00:00Z",
    "model_id": "gpt-big",
    "prompt_version": "refunds-v3",
    "intent": "refund_policy",
    "prompt": "How long do refunds take?",
    "response": "Refunds take up to thirty days.",
    "latency_ms": 812,
    "input_tokens": 42,
    "output_tokens": 9,
    "conversation_id": "c-77",
}

STRICT = Query(description="Store nothing if any record is rejected (answer 422).")


@router.post(
    "",
    response_model=IngestResult,
    status_code=status.HTTP_201_CREATED,
    response_description="Something new was stored.",
    responses=ingest_answers_doc(),
    openapi_extra=request_body_doc(ResponseInput, EXAMPLE),
    summary="Store responses",
)
def post_responses(
    response: Response,
    records: Annotated[list[Any], Depends(records_body)],
    db: Annotated[Database, Depends(get_db)],
    settings: Annotated[Settings, Depends(get_settings)],
    shared: Annotated[SharedPool | None, Depends(get_prepare_pool)],
    strict: Annotated[bool, STRICT] = False,
) -> IngestResult:
    """Validate, redact, de-duplicate and store one response or a batch of up to 1000.

    Errors are per record and success is partial: valid records are stored even when others in
    the same request are rejected (422, with each rejected record's index, field and message).
    A client retries just the failed ones; re-sending good ones is harmless because ingest is
    idempotent (same id, same content: counted as a duplicate). With `?strict=true` nothing is
    stored if any record is rejected.

    Field names are those of the ingest files; unknown fields are kept in `metadata`. Answers
    201 when something was stored, 200 when everything was already there.
    """
    return ingest_request(
        db, settings, records, "responses", strict=strict, response=response, shared=shared
    )


@router.get(
    "/{response_id:path}",
    response_model=ResponseOut,
    responses={401: {"model": Problem}, 404: {"model": Problem}},
    summary="Read one stored response",
)
def get_one_response(response_id: str, db: Annotated[Database, Depends(get_db)]) -> BaseModel:
    """The response as stored: PII already redacted, timestamps in UTC (ISO 8601)."""
    record = get_response(db, response_id)
    if record is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no response with id '{response_id}'")
    return ResponseOut.model_validate(msgspec.structs.asdict(record))
