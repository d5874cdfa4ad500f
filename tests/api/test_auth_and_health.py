"""Bearer-token auth on every /v1 route, /healthz without it, error translation, a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy.engine import make_url

import evalkit
from evalkit.api.app import create_app
from evalkit.errors import StoreError, UsageError
from evalkit.settings import Settings
from evalkit.store.queries import count_responses
from tests.api.conftest import TOKEN
from tests.api.expected import ingest_body
from tests.helpers import record, stop_process

MISSING = {"detail": "missing bearer token: send 'Authorization: Bearer <EVALKIT_API_TOKEN>'"}
INVALID = {"detail": "invalid bearer token"}

PROTECTED = [
    ("POST", "/v1/responses", record(1)),
    ("POST", "/v1/feedback", {"response_id": "r-1", "kind": "rating", "value": "up"}),
    ("GET", "/v1/responses/r-1", None),
]


def test_healthz_needs_no_token(anonymous, store_url):
    answer = anonymous.get("/healthz")
    assert (answer.status_code, answer.json()) == (
        200,
        {
            "status": "ok",
            "store": make_url(store_url).get_backend_name(),
            "version": evalkit.__version__,
            "classifier_version": None,
        },
    )


@pytest.mark.parametrize(
    ("method", "path", "body"), PROTECTED, ids=["responses", "feedback", "get"]
)
@pytest.mark.parametrize(
    ("authorization", "expected"),
    [
        (None, MISSING),
        ("Bearer", MISSING),
        (f"Basic {TOKEN}", MISSING),
        ("Bearer wrong", INVALID),
        (f"Bearer {TOKEN[:-1]}", INVALID),
        (f"Bearer {TOKEN}x", INVALID),
    ],
    ids=["none", "empty", "basic", "wrong", "prefix", "longer"],
)
def test_v1_routes_answer_401_without_the_token(
    anonymous, db, method, path, body, authorization, expected
):
    headers = {"Authorization": authorization} if authorization is not None else {}
    answer = anonymous.request(method, path, json=body, headers=headers)
    assert (answer.status_code, answer.json()) == (401, expected)
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert count_responses(db) == 0


def test_the_scheme_is_case_insensitive(anonymous):
    answer = anonymous.post(
        "/v1/responses", json=record(1), headers={"Authorization": f"bearer {TOKEN}"}
    )
    assert (answer.status_code, answer.json()) == (201, ingest_body(stored=1, ids=["r-1"]))


def test_without_auth_no_token_is_asked_for(settings):
    with TestClient(create_app(settings, require_auth=False)) as client:
        answer = client.post("/v1/responses", json=record(1))
        assert (answer.status_code, answer.json()) == (201, ingest_body(stored=1, ids=["r-1"]))
        assert (
            client.get("/v1/responses/r-1", headers={"Authorization": "Bearer junk"}).status_code
            == 200
        )


@pytest.mark.parametrize("token", [None, ""], ids=["unset", "empty"])
def test_the_app_refuses_to_start_with_auth_and_no_token(settings, token):
    configured = settings.model_copy(
        update={"api_token": None if token is None else SecretStr(token)}
    )
    with pytest.raises(UsageError, match="set EVALKIT_API_TOKEN"):
        create_app(configured)


def test_an_unreachable_store_fails_at_creation(tmp_path):
    unreachable = Settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://nobody@127.0.0.1:1/none",
        api_token=SecretStr(TOKEN),
        _env_file=None,  # type: ignore[call-arg]
    )
    with pytest.raises(StoreError, match="cannot open the store"):
        create_app(unreachable)


@pytest.mark.parametrize(
    ("exc", "status"),
    [(UsageError("unknown format 'xml'"), 400), (StoreError("the store is down"), 503)],
    ids=["usage", "store"],
)
def test_domain_errors_are_translated_once(app, client, exc, status):
    def fail() -> None:
        raise exc

    app.add_api_route("/boom", fail)
    answer = client.get("/boom")
    assert (answer.status_code, answer.json()) == (status, {"detail": str(exc)})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_evalkit_serve_stores_and_returns_a_record(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVALKIT_")}
    env.update({"EVALKIT_DATA_DIR": str(tmp_path / "data"), "EVALKIT_API_TOKEN": TOKEN})
    log = (tmp_path / "serve.log").open("w")
    evalkit_cmd = Path(sys.executable).parent / "evalkit"
    # cwd=tmp_path: no stray .env of the developer's is read.
    proc = subprocess.Popen(
        [str(evalkit_cmd), "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                output = (tmp_path / "serve.log").read_text()
                pytest.fail(f"evalkit serve exited with {proc.returncode}:\n{output}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"no /healthz within 20 s:\n{(tmp_path / 'serve.log').read_text()}")
            time.sleep(0.2)

        auth = {"Authorization": f"Bearer {TOKEN}"}
        posted = httpx.post(
            f"{base}/v1/responses",
            json=record(1, prompt="mail me: a@b.example.com"),
            headers=auth,
            timeout=10,
        )
        assert (posted.status_code, posted.json()) == (
            201,
            ingest_body(stored=1, ids=["r-1"], redactions={"email": 1}),
        )
        got = httpx.get(f"{base}/v1/responses/r-1", headers=auth, timeout=10)
        assert got.status_code == 200
        assert (got.json()["id"], got.json()["prompt"]) == ("r-1", "mail me: [EMAIL]")
        assert httpx.get(f"{base}/v1/responses/r-1", timeout=10).status_code == 401
        assert (tmp_path / "data" / "evalkit.db").exists()
    finally:
        stop_process(proc)
        log.close()


@pytest.mark.postgres
def test_healthz_and_writes_answer_503_when_the_store_goes_away(pg_server_url, tmp_path):
    """The server started fine, then PostgreSQL stopped accepting its connections."""
    from sqlalchemy import create_engine, text

    settings = Settings(data_dir=tmp_path, database_url=pg_server_url, _env_file=None)
    client = TestClient(create_app(settings, require_auth=False))
    assert client.get("/healthz").status_code == 200
    name = pg_server_url.rsplit("/", 1)[1]
    admin = create_engine(pg_server_url.rsplit("/", 1)[0] + "/test", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                f"WHERE datname = '{name}' AND pid <> pg_backend_pid()"
            )
        )
    try:
        health = client.get("/healthz")
        assert health.status_code == 503 and "failed" in health.json()["detail"]
        write = client.post("/v1/responses", json={"id": "a", "response": "r"})
        assert write.status_code == 503
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
