"""``evalkit serve``: run the HTTP API under uvicorn.

The command only checks that requests will be authenticated and hands over to ``evalkit.api``;
uvicorn and FastAPI are imported when it runs, not when the CLI loads, so ``evalkit --help``
stays fast.
"""

from __future__ import annotations

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
) -> None:
    """Run the HTTP API (POST /v1/responses, POST /v1/feedback, ...)."""
    import uvicorn

    from evalkit.api.app import create_app

    if state.settings.api_token is None and not no_auth:
        raise UsageError(
            "set EVALKIT_API_TOKEN (clients send it as a bearer token) or pass --no-auth"
        )
    uvicorn.run(create_app(state.settings, require_auth=not no_auth), host=host, port=port)
