"""``POST /v1/check``: the guard over HTTP, for services that cannot embed it in-process.

One check (``{"prompt", "response", "context", "meta", "id"}``) or ``{"items": [...]}`` (at most
``MAX_ITEMS``). The answer is the in-process ``Verdict.as_dict()``, one per item, so the two
agree. 401 without the token, 413 for a body over ``MAX_BODY_BYTES`` or too many items, 422 for a
body that is not a check (each problem named), 503 when no classifier is loaded.

The classifier is loaded once, when the app is built (``setup_guard``): the active version in
the store, if there is one. A small body is parsed and scored on the event loop, a large one
(or any check under a timeout) in FastAPI's thread pool (``INLINE_BYTES``); verdicts are
recorded in the background (``evalkit.guard.recording``).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from evalkit.api.auth import require_token
from evalkit.api.metrics import GuardMetrics, metrics_registry

log = logging.getLogger("evalkit.api")

_encode = msgspec.json.Encoder().encode

MAX_ITEMS = 256
#: Bodies up to this size are parsed and scored on the event loop: a typical check is a
#: millisecond or two of CPU-bound Python, which a thread would not run any sooner (the GIL),
#: while handing it to FastAPI's thread pool and back cost about a quarter of its CPU. Scoring
#: time grows with the text, so a larger body (up to 256 items of 20,000 characters a field:
#: tens of milliseconds and more) goes to the pool, as does every check under a timeout
#: (``Guard`` then waits on its own threads), so it does not hold up the requests behind it.
INLINE_BYTES = 32 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024
NO_CLASSIFIER = (
    "no classifier is loaded: train one (`evalkit train`) and restart "
    "`evalkit serve`; the guard loads the active version at start"
)

router = APIRouter(prefix="/v1", tags=["guard"], dependencies=[Depends(require_token)])


class CheckItem(BaseModel):
    """One response to check before it is sent."""

    model_config = ConfigDict(extra="forbid")
    response: str
    prompt: str = ""
    context: str | list[str] | None = None
    id: str | None = Field(
        default=None,
        max_length=128,
        description="The response's id, so a flagged one can be reviewed.",
    )
    confidence: float | None = Field(default=None, ge=0, le=1)
    meta: dict[str, Any] = Field(default_factory=dict)


class CheckBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    items: list[CheckItem]


def setup_guard(app: FastAPI, settings: Any, db: Any) -> None:
    """Load the store's active classifier once (or none) and register the guard's metrics."""
    from evalkit.store.classifiers import active_version

    app.state.guard = None
    app.state.guard_metrics = GuardMetrics(metrics_registry(app))
    if active_version(db) is None:
        return
    from evalkit.guard import Guard

    guard = Guard.active(db, settings=settings, record=True)
    app.state.guard = guard
    if guard is not None:
        app.state.guard_metrics.version.labels(version=guard.classifier_version).set(1)


def close_guard(app: FastAPI) -> None:
    guard = getattr(app.state, "guard", None)
    if guard is not None:
        guard.close()


def live_version(app: FastAPI) -> str | None:
    guard = getattr(app.state, "guard", None)
    return None if guard is None else guard.classifier_version


def _parse(raw: bytes) -> tuple[list[CheckItem], bool]:
    try:
        payload = json.loads(raw)
    except ValueError as exc:
        raise _unprocessable([{"loc": "body", "msg": f"not valid JSON ({exc})"}]) from None
    batch = isinstance(payload, dict) and "items" in payload
    if batch and isinstance(payload["items"], list) and len(payload["items"]) > MAX_ITEMS:
        raise HTTPException(
            status.HTTP_413_CONTENT_TOO_LARGE,
            f"a batch holds at most {MAX_ITEMS} items, this one has "
            f"{len(payload['items'])}; split it",
        )
    try:
        if batch:
            return CheckBatch.model_validate(payload).items, True
        return [CheckItem.model_validate(payload)], False
    except ValidationError as exc:
        raise _unprocessable(
            [
                {"loc": ".".join(str(p) for p in err["loc"]) or "body", "msg": err["msg"]}
                for err in exc.errors()
            ]
        ) from None


def _unprocessable(problems: list[dict[str, str]]) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=problems)


async def _body(request: Request) -> bytes:
    """The body, refused (413) once it is known to exceed the limit: from Content-Length before
    reading, or while streaming one sent without it."""
    limit = min(MAX_BODY_BYTES, request.app.state.settings.max_request_bytes)
    declared = request.headers.get("content-length", "")
    too_large = HTTPException(
        status.HTTP_413_CONTENT_TOO_LARGE,
        f"the request body is over {limit:,} bytes; send fewer or shorter items",
    )
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    parts, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > limit:
            raise too_large
        parts.append(part)
    return b"".join(parts)


def _checked(guard: Any, raw: bytes) -> tuple[list[Any], bool]:
    items, batch = _parse(raw)
    return guard.check_many([item.model_dump() for item in items]), batch


@router.post("/check", summary="Score responses before they are sent")
async def check(request: Request, raw: Annotated[bytes, Depends(_body)]) -> Any:
    """One check, or ``{"items": [...]}``: scores per head, the action, the version."""
    metrics: GuardMetrics = request.app.state.guard_metrics
    started = time.perf_counter()
    try:
        guard = request.app.state.guard
        if guard is None:
            _parse(raw)  # a body that is no check is a 4xx even so
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, NO_CLASSIFIER)
        if len(raw) <= INLINE_BYTES and guard.policy.timeout_ms is None:
            verdicts, batch = _checked(guard, raw)
        else:
            verdicts, batch = await run_in_threadpool(_checked, guard, raw)
    except HTTPException as exc:
        metrics.requests.labels(status=str(exc.status_code)).inc()
        raise
    metrics.requests.labels(status="200").inc()
    metrics.checks.inc(len(verdicts))
    for verdict in verdicts:
        for head in verdict.heads or ("none",):
            metrics.actions.labels(head=head, action=verdict.decided).inc()
    metrics.latency.observe(time.perf_counter() - started)
    answers = [verdict.as_dict() for verdict in verdicts]
    # Encoded here: FastAPI's own serialization walks the answer again (jsonable_encoder).
    return Response(
        _encode({"results": answers} if batch else answers[0]), media_type="application/json"
    )
