"""Bearer-token authentication: ``Authorization: Bearer <EVALKIT_API_TOKEN>``.

There is one token and no roles, so a request is either authenticated or answered 401; there
is no 403. ``create_app`` puts the expected token on ``app.state.api_token`` (None = auth off).
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

# auto_error=False: the scheme only documents the header in OpenAPI; the answer is ours.
_bearer = HTTPBearer(auto_error=False, description="The value of EVALKIT_API_TOKEN.")

MISSING = "missing bearer token: send 'Authorization: Bearer <EVALKIT_API_TOKEN>'"
INVALID = "invalid bearer token"


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Let the request through only with the configured token (always, when auth is off).

    ``async`` although nothing here waits: FastAPI runs a plain ``def`` dependency in its
    thread pool, a thread hop per request that cost more CPU than the check itself."""
    expected: bytes | None = request.app.state.api_token
    if expected is None:
        return
    if credentials is None:
        raise _unauthorized(MISSING)
    # Bytes, because compare_digest refuses non-ASCII str; constant time either way.
    if not secrets.compare_digest(credentials.credentials.encode("utf-8"), expected):
        raise _unauthorized(INVALID)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )
