"""``/healthz``: liveness for load balancers and the `serve` smoke test; no token needed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from evalkit import __version__
from evalkit.api.check import live_version
from evalkit.api.deps import get_db
from evalkit.api.schemas import Health, Problem
from evalkit.store.database import Database

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    response_model=Health,
    summary="Liveness and store reachability",
    responses={503: {"model": Problem, "description": "The store does not answer."}},
)
def healthz(request: Request, db: Annotated[Database, Depends(get_db)]) -> Health:
    """The service is up and its store answers a trivial query (503 when it does not); says
    which classifier version the guard serves, so a deploy can check the one it expects."""
    db.ping()
    return Health(
        status="ok",
        store=db.dialect,
        version=__version__,
        classifier_version=live_version(request.app),
    )
