"""An API client per store (SQLite, then PostgreSQL) with the bearer token already set."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr

from evalkit.api.app import create_app
from evalkit.settings import Settings

TOKEN = "t0ken"


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_token": SecretStr(TOKEN)})


@pytest.fixture
def app(api_settings: Settings) -> FastAPI:
    return create_app(api_settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """Authenticated; entering the client runs the app's lifespan (the store is disposed after)."""
    with TestClient(app, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


@pytest.fixture
def anonymous(app: FastAPI) -> TestClient:
    """The same app, without a token."""
    return TestClient(app)
