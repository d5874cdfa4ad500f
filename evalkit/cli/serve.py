"""``evalkit serve``: run the HTTP API under uvicorn.

The command only checks that requests will be authenticated and hands over to ``evalkit.api``;
uvicorn and FastAPI are imported when it runs, not when the CLI loads, so ``evalkit --help``
stays fast.

One process serves everything by default. Ingest and scoring are CPU-bound Python, so one
process uses about one core however many requests arrive; ``--workers N`` runs N processes on
the same port (uvicorn's supervisor), each with its own store connections and its own copy of
the classifier. The parent checks the settings, opens (and migrates) the store and builds the
app once before any worker starts, so a bad URL or a broken artifact fails here, with its
message, rather than in N workers that uvicorn restarts in a loop. Metrics are then summed
over the workers (``evalkit.api.metrics``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer

from evalkit.cli.context import state, translate_errors
from evalkit.errors import UsageError


@translate_errors
def serve(
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port")] = 8000,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Accept requests without a token (local use only).")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            help="Server processes; about one core each (ingest and scoring are CPU-bound). "
            "Use the number of cores on a busy host.",
        ),
    ] = 1,
) -> None:
    """Run the HTTP API (POST /v1/responses, POST /v1/feedback, ...)."""
    import uvicorn

    from evalkit.api.app import close_app, create_app, serving

    if state.settings.api_token is None and not no_auth:
        raise UsageError(
            "set EVALKIT_API_TOKEN (clients send it as a bearer token) or pass --no-auth"
        )
    if workers == 1:
        app = serving(create_app(state.settings, require_auth=not no_auth))
        uvicorn.run(app, host=host, port=port)
        return
    from evalkit.api.metrics import MULTIPROC_ENV

    # Built once here only to fail early and to migrate the store before any worker opens it;
    # outside the workers' metrics directory (prometheus_client reads it when first imported),
    # so this process leaves no metric files there.
    metrics_parent = os.environ.pop(MULTIPROC_ENV, None)
    try:
        close_app(create_app(state.settings, require_auth=not no_auth))
    finally:
        if metrics_parent is not None:
            os.environ[MULTIPROC_ENV] = metrics_parent
    with _worker_environment(no_auth=no_auth, workers=workers):
        uvicorn.run(
            "evalkit.api.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
        )


@contextmanager
def _worker_environment(*, no_auth: bool, workers: int) -> Iterator[None]:
    """The environment the spawned workers read their settings from, and the directory their
    metric files share (a fresh one, inside ``PROMETHEUS_MULTIPROC_DIR`` when that is set:
    prometheus_client would add up an earlier run's files too); both undone when the server
    stops. Each worker prepares large ingest batches in a pool of its own, so unless
    ``EVALKIT_INGEST_WORKERS`` is set, the cores are shared out: N workers of a pool each
    would run N times too many processes."""
    from evalkit.api.app import NO_AUTH_ENV
    from evalkit.api.metrics import MULTIPROC_ENV

    settings = state.settings
    values = {
        # the command-line overrides (--database-url, --data-dir) travel as variables
        "EVALKIT_DATABASE_URL": settings.resolved_database_url,
        "EVALKIT_DATA_DIR": str(settings.data_dir.resolve()),
        NO_AUTH_ENV: "1" if no_auth else "0",
    }
    if settings.ingest_workers == 0:
        values["EVALKIT_INGEST_WORKERS"] = str(max(1, (os.cpu_count() or 1) // workers))
    metrics_dir = values[MULTIPROC_ENV] = tempfile.mkdtemp(
        prefix="evalkit-metrics-", dir=os.environ.get(MULTIPROC_ENV) or None
    )
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(metrics_dir, ignore_errors=True)
