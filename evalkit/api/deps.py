"""Per-request access to what ``create_app`` set up once: the settings and the open store.

Both are ``async`` only so that FastAPI calls them on the event loop: a plain ``def``
dependency runs in the thread pool, one thread hop per dependency per request.
"""

from __future__ import annotations

from fastapi import Request

from evalkit.capture.parallel import SharedPool
from evalkit.settings import Settings
from evalkit.store.database import Database


async def get_db(request: Request) -> Database:
    return request.app.state.db


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_prepare_pool(request: Request) -> SharedPool | None:
    """The processes preparing large ingest batches (None: prepared in the request's thread)."""
    return request.app.state.prepare_pool
