"""``/v1/feedback``: late events (outcome, rating, correction, comment) about stored responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response, status

from evalkit.api.auth import require_token
from evalkit.api.body import records_body
from evalkit.api.body_doc import ingest_answers_doc, request_body_doc
from evalkit.api.deps import get_db, get_prepare_pool, get_settings
from evalkit.api.schemas import IngestResult, ingest_request
from evalkit.capture.parallel import SharedPool
from evalkit.capture.validate import FeedbackInput
from evalkit.settings import Settings
from evalkit.store.database import Database

router = APIRouter(prefix="/v1/feedback", tags=["feedback"], dependencies=[Depends(require_token)])

EXAMPLE = {
    "id": "fb-0001",
    "response_id": "resp-0001",
    "kind": "rating",
    "value": "down",
    "created_at": "2026-11-02T10:05:00Z",
    "source": "chat-widget",
}

STRICT = Query(description="Store nothing if any event is rejected (answer 422).")


@router.post(
    "",
    response_model=IngestResult,
    status_code=status.HTTP_201_CREATED,
    response_description="Something new was stored.",
    responses=ingest_answers_doc(),
    openapi_extra=request_body_doc(FeedbackInput, EXAMPLE),
    summary="Store feedback events",
)
def post_feedback(
    response: Response,
    records: Annotated[list[Any], Depends(records_body)],
    db: Annotated[Database, Depends(get_db)],
    settings: Annotated[Settings, Depends(get_settings)],
    shared: Annotated[SharedPool | None, Depends(get_prepare_pool)],
    strict: Annotated[bool, STRICT] = False,
) -> IngestResult:
    """Store one feedback event or a batch of up to 1000, each about a stored response.

    Errors are per event and success is partial, as for `/v1/responses`: an event whose
    `response_id` names no stored response is rejected (field `response_id`, 422) and the
    others are stored; re-sending stored events is harmless. `?strict=true` stores nothing if
    any event is rejected. Corrections and comments are PII-redacted before storing.
    """
    return ingest_request(
        db, settings, records, "feedback", strict=strict, response=response, shared=shared
    )
