"""``/v1/queue``: the review queue for teams with their own front end, and for load tests.

Authenticated by a *reviewer* token (``evalkit reviewers token NAME``), not the capture API's
token: the queue needs to know who is working. A token reaches only its reviewer's tenants:
another tenant's item answers 404, exactly like an item that does not exist, so ids leak
nothing. Each route parses, calls one ``evalkit.review`` function and returns a schema.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from evalkit.api.body import json_body
from evalkit.api.deps import get_db, get_settings
from evalkit.api.schemas import ResponseOut
from evalkit.errors import NotFoundError, UsageError
from evalkit.review import LeaseLost, Reviewer, accounts, schema
from evalkit.review import queue as review_queue
from evalkit.review.types import Forbidden
from evalkit.settings import Settings
from evalkit.store.database import Database

_bearer = HTTPBearer(auto_error=False, description="A reviewer token (evalkit reviewers token).")


def require_reviewer(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Reviewer:
    """The reviewer whose live token the request carries; 401 otherwise."""
    if credentials is None:
        raise _unauthorized("missing bearer token: send 'Authorization: Bearer <reviewer token>'")
    reviewer = accounts.reviewer_for_token(request.app.state.db, credentials.credentials)
    if reviewer is None:
        raise _unauthorized("invalid, revoked or expired reviewer token")
    return reviewer


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, detail, {"WWW-Authenticate": "Bearer"})


router = APIRouter(prefix="/v1/queue", tags=["review queue"])
ReviewerDep = Annotated[Reviewer, Depends(require_reviewer)]
DbDep = Annotated[Database, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


class ClaimedItem(BaseModel):
    item_id: int
    queue: str
    response: ResponseOut  # type: ignore[valid-type]
    lease_expires_at: datetime
    priority: int
    due_at: datetime | None
    overdue: bool
    required_reviews: int = Field(description="Distinct reviewers this item needs (blind).")


class Submitted(BaseModel):
    item_id: int
    submission_id: int
    version: int = Field(description="1 for a first submission; more for an edit.")
    item_status: str = Field(description="pending | done | disputed | adjudicated")


class Lease(BaseModel):
    item_id: int
    lease_expires_at: datetime


class Released(BaseModel):
    item_id: int
    released: bool = True


def _translate(exc: Exception) -> HTTPException:
    if isinstance(exc, LeaseLost):
        return HTTPException(status.HTTP_409_CONFLICT, str(exc))
    if isinstance(exc, Forbidden):
        return HTTPException(status.HTTP_403_FORBIDDEN, str(exc))
    if isinstance(exc, NotFoundError):
        return HTTPException(status.HTTP_404_NOT_FOUND, str(exc))
    if isinstance(exc, UsageError):
        return HTTPException(status.HTTP_400_BAD_REQUEST, str(exc))
    raise exc


async def _optional_body(request: Request) -> dict[str, Any]:
    if not (await request.body()).strip():
        return {}
    body = await json_body(request, shape='send {"queue": "NAME"} or nothing')
    if not isinstance(body, dict):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "the body must be a JSON object")
    return body


@router.post(
    "/claim",
    response_model=ClaimedItem,
    responses={204: {"description": "Nothing is due for this reviewer."}},
    summary="Claim the next item",
)
async def post_claim(
    request: Request, reviewer: ReviewerDep, db: DbDep, settings: SettingsDep
) -> Any:
    """Lease the next due item (by priority, due time, age) for the configured lease time;
    the same item again while the reviewer's lease on it lasts."""
    body = await _optional_body(request)
    queue = body.get("queue")
    if queue is not None and not isinstance(queue, str):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "queue: expected a name")
    item = review_queue.claim(
        db,
        reviewer,
        queue=queue,
        lease=timedelta(minutes=settings.review_lease_minutes),
        gold_rate=settings.review_gold_rate,
    )
    if item is None:
        return Response(status_code=status.HTTP_204_NO_CONTENT)
    return ClaimedItem(
        item_id=item.item_id,
        queue=item.queue,
        response=msgspec.structs.asdict(item.response),
        lease_expires_at=item.lease_expires_at,
        priority=item.priority,
        due_at=item.due_at,
        overdue=item.overdue(datetime.now(item.lease_expires_at.tzinfo)),
        required_reviews=item.required_reviews,
    )


@router.post(
    "/items/{item_id}/labels",
    response_model=Submitted,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"description": "The lease was lost: nothing was stored."}},
    summary="Submit labels",
)
async def post_labels(item_id: int, request: Request, reviewer: ReviewerDep, db: DbDep) -> Any:
    """Body: ``{"labels": {"hallucination": "no", "harm": {"value": "low", "category":
    "financial"}}, "correction": ..., "note": ..., "seconds": 42}``; see ``GET /v1/queue/schema``.
    Again for the same item: an edit (a new version; the old one is kept)."""
    labels, general = await _labels_body(request)
    try:
        result = review_queue.submit(db, reviewer, item_id, labels, **general)
    except (LeaseLost, NotFoundError, UsageError) as exc:
        raise _translate(exc) from None
    return _submitted(item_id, result)


@router.post("/items/{item_id}/release", response_model=Released, summary="Release (skip)")
def post_release(item_id: int, reviewer: ReviewerDep, db: DbDep) -> Any:
    """Give the item back for someone else; it is not served to this reviewer again."""
    try:
        review_queue.release(db, reviewer, item_id)
    except (LeaseLost, NotFoundError) as exc:
        raise _translate(exc) from None
    return Released(item_id=item_id)


@router.post("/items/{item_id}/lease", response_model=Lease, summary="Renew the lease")
def post_renew(item_id: int, reviewer: ReviewerDep, db: DbDep, settings: SettingsDep) -> Any:
    """Extend a live lease by the configured lease time (409 when it is already lost)."""
    try:
        expires = review_queue.renew(
            db, reviewer, item_id, lease=timedelta(minutes=settings.review_lease_minutes)
        )
    except (LeaseLost, NotFoundError) as exc:
        raise _translate(exc) from None
    return Lease(item_id=item_id, lease_expires_at=expires)


@router.get("/schema", summary="The label schema")
def get_schema(_reviewer: ReviewerDep) -> dict[str, Any]:
    """Heads, choices, fields, guidelines and keyboard keys: what a front end renders."""
    return schema.describe()


@router.get("/status", summary="Where the queue stands")
def get_status(reviewer: ReviewerDep, db: DbDep, queue: str | None = None) -> dict[str, Any]:
    """Counts per status, live leases, overdue items, progress per reviewer: over the tenants
    this reviewer sees."""
    s = review_queue.queue_status(db, queue=queue, reviewer=reviewer)
    return msgspec.to_builtins(s)


class DisputedLabel(BaseModel):
    reviewer: str
    head: str
    value: str
    span: str | None = None
    category: str | None = None
    off_brand: bool | None = None
    note: str | None = None


class Disputed(BaseModel):
    item_id: int
    queue: str
    response: ResponseOut  # type: ignore[valid-type]
    disagreeing_heads: list[str]
    labels: list[DisputedLabel]


@router.get(
    "/disputed",
    response_model=list[Disputed],
    responses={403: {"description": "Only adjudicators and admins see others' labels."}},
    summary="Items waiting for an adjudicator",
)
def get_disputed(
    reviewer: ReviewerDep, db: DbDep, queue: str | None = None, limit: int = 50
) -> Any:
    """Items whose reviewers disagree, with every reviewer's labels (adjudicators only)."""
    try:
        items = review_queue.disputed_items(db, reviewer, queue=queue, limit=min(limit, 500))
    except Forbidden as exc:
        raise _translate(exc) from None
    return [
        Disputed(
            item_id=item.item_id,
            queue=item.queue,
            response=msgspec.structs.asdict(item.response),
            disagreeing_heads=list(item.disagreeing_heads),
            labels=[
                DisputedLabel(
                    reviewer=label.annotator,
                    head=label.head,
                    value=label.value,
                    span=label.span,
                    category=label.category,
                    off_brand=label.off_brand,
                    note=label.note,
                )
                for label in item.labels
            ],
        )
        for item in items
    ]


@router.post(
    "/items/{item_id}/adjudication",
    response_model=Submitted,
    status_code=status.HTTP_201_CREATED,
    responses={403: {"description": "The reviewer is not an adjudicator or admin."}},
    summary="Adjudicate an item",
)
async def post_adjudication(
    item_id: int, request: Request, reviewer: ReviewerDep, db: DbDep
) -> Any:
    """The same body as a submission; the adjudicator's labels become the item's final ones."""
    labels, general = await _labels_body(request)
    try:
        result = review_queue.adjudicate(db, reviewer, item_id, labels, **general)
    except (Forbidden, NotFoundError, UsageError) as exc:
        raise _translate(exc) from None
    return _submitted(item_id, result)


async def _labels_body(request: Request) -> tuple[Any, dict[str, Any]]:
    """A submission's or adjudication's body: its ``labels`` and the general fields beside."""
    body = await json_body(request, shape='send {"labels": {"HEAD": VALUE, ...}}')
    if not isinstance(body, dict) or "labels" not in body:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, 'send {"labels": {"HEAD": VALUE}}')
    return body["labels"], {k: v for k, v in body.items() if k != "labels"}


def _submitted(item_id: int, result: Any) -> Submitted:
    return Submitted(
        item_id=item_id,
        submission_id=result.submission_id,
        version=result.version,
        item_status=result.item_status,
    )
