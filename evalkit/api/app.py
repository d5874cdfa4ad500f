"""The HTTP API: ``create_app(settings)`` builds it, ``evalkit serve`` runs it.

The store is opened (and migrated) once, when the app is built, so a bad URL fails before the
port is bound; it is disposed when the app shuts down. Domain errors become HTTP answers here,
once: a usage error is 400, an unreachable store 503.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from evalkit import __version__
from evalkit.api import check, feedback, health, metrics, queue, responses
from evalkit.capture.parallel import SharedPool
from evalkit.errors import EvalkitError, NotFoundError, StoreError, UsageError
from evalkit.settings import Settings
from evalkit.store.database import Database

DESCRIPTION = """\
Capture production LLM responses and late feedback into evalkit's store.

Every route under `/v1` needs `Authorization: Bearer <EVALKIT_API_TOKEN>`. POST bodies are one
record or `{"records": [...]}` (at most 1000); rejected records come back one by one in
`errors` (422) while the valid ones are stored.
"""


def create_app(settings: Settings, *, require_auth: bool = True) -> FastAPI:
    """The API over the store of ``settings``; with ``require_auth`` a token must be set."""
    token = settings.api_token.get_secret_value() if settings.api_token is not None else ""
    if require_auth and not token:
        raise UsageError(
            "set EVALKIT_API_TOKEN (clients send it as a bearer token), "
            "or run without authentication (evalkit serve --no-auth)"
        )
    db = Database.open(settings.resolved_database_url)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        close_app(_app)

    app = FastAPI(title="evalkit", version=__version__, description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.db = db
    app.state.prepare_pool = prepare_pool(settings)
    app.state.api_token = token.encode("utf-8") if require_auth else None
    app.add_exception_handler(EvalkitError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _bad_parameter)  # type: ignore[arg-type]
    app.include_router(health.router)
    app.include_router(responses.router)
    app.include_router(feedback.router)
    app.include_router(queue.router)
    # The guard loads the active classifier once, here, so the first /v1/check is not slow.
    check.setup_guard(app, settings, db)
    app.include_router(check.router)
    app.include_router(metrics.router)
    # watch's quality index (the last `evalkit watch` run, open alerts) on the same registry
    from evalkit.watch.metrics import QualityIndexCollector

    metrics.add_collector(app, QualityIndexCollector(db, settings))
    return app


def close_app(app: FastAPI) -> None:
    """What the app's end undoes: the guard (its recorder flushed), the preparing processes,
    the store's connections, this process's live metrics."""
    check.close_guard(app)
    if app.state.prepare_pool is not None:
        app.state.prepare_pool.close()
    app.state.db.dispose()
    metrics.process_exited()


def prepare_pool(settings: Settings) -> SharedPool | None:
    """Processes preparing large ingest batches (``EVALKIT_INGEST_WORKERS``: 0, one per core
    and at most 4; 1, none). Launched by ``serving`` or else by the first batch that needs them."""
    workers = settings.ingest_workers or min(os.cpu_count() or 1, 4)
    return SharedPool(workers) if workers > 1 else None


#: Set by ``evalkit serve --workers N --no-auth`` for its worker processes.
NO_AUTH_ENV = "EVALKIT_SERVE_NO_AUTH"


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``evalkit serve --workers N`` (uvicorn's factory).

    Workers are started afresh (spawned), so they read their settings where the parent did:
    the environment and ``.env``, into which ``serve`` put its command-line overrides.
    """
    from evalkit.settings import load_settings

    return serving(create_app(load_settings(), require_auth=os.environ.get(NO_AUTH_ENV) != "1"))


def serving(app: FastAPI) -> FastAPI:
    """``app``, about to be served: its ingest processes launched now rather than on first use
    (an app made for a test or a one-off call does not start them unless it needs them)."""
    if app.state.prepare_pool is not None:
        app.state.prepare_pool.start()
    return app


_STATUS: tuple[tuple[type[EvalkitError], int], ...] = (
    (UsageError, 400),
    (NotFoundError, 404),
    (StoreError, 503),
)


async def _domain_error(_request: Request, exc: EvalkitError) -> JSONResponse:
    code = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    return JSONResponse({"detail": str(exc)}, status_code=code)


async def _bad_parameter(_request: Request, exc: RequestValidationError) -> JSONResponse:
    # Bodies are parsed by hand (see body.py), so only query and path parameters get here.
    # 422 is kept for rejected records; a malformed parameter is a bad request.
    problems = []
    for err in exc.errors():
        kind, *name = err.get("loc", ("request",))
        where = f"{kind} parameter '{'.'.join(str(part) for part in name)}'" if name else str(kind)
        got = f" (got {err['input']!r})" if "input" in err else ""
        problems.append(f"{where}: {err.get('msg', 'invalid')}{got}")
    return JSONResponse({"detail": "; ".join(problems)}, status_code=400)
