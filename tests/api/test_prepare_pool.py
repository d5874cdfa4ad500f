"""Large HTTP batches are prepared in the app's pool of processes (``SharedPool``), with exactly
the outcome of preparing them in the request's thread, and a pool that breaks is not fatal."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest
from fastapi.testclient import TestClient

from evalkit.api.app import create_app
from evalkit.api.schemas import SHARED_FROM_RECORDS
from evalkit.capture.parallel import SharedPool
from tests.api.conftest import TOKEN
from tests.helpers import record

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _batch(n: int, offset: int = 0) -> dict:
    records = [
        record(
            offset + i,
            prompt=f"Mail me at user{offset + i}@example.com about order {offset + i}",
        )
        for i in range(n)
    ]
    records[7]["latency_ms"] = "slow"  # one rejected record, named by index and field
    return {"records": records}


def _pool_processes() -> set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.pid is not None}


def _stored(client: TestClient, ids: list[str | None]) -> list[dict]:
    rows = []
    for rid in ids:
        if rid is None:
            continue
        got = client.get(f"/v1/responses/{rid}")
        assert got.status_code == 200
        rows.append({k: v for k, v in got.json().items() if k != "received_at"})
    return rows


def test_a_pooled_batch_is_ingested_exactly_as_one_prepared_in_the_request(api_settings, tmp_path):
    inline_settings = api_settings.model_copy(
        update={"ingest_workers": 1, "database_url": f"sqlite:///{tmp_path / 'inline.db'}"}
    )
    body = _batch(SHARED_FROM_RECORDS + 70)
    before = _pool_processes()
    with TestClient(create_app(api_settings), headers=AUTH) as pooled:
        assert isinstance(pooled.app.state.prepare_pool, SharedPool)
        answer = pooled.post("/v1/responses", json=body)
        started = _pool_processes() - before
        assert started, "the batch was not handed to the pool's processes"
        pooled_rows = _stored(pooled, answer.json()["ids"])
    with TestClient(create_app(inline_settings), headers=AUTH) as inline:
        assert inline.app.state.prepare_pool is None
        expected = inline.post("/v1/responses", json=body)
        inline_rows = _stored(inline, expected.json()["ids"])
    assert (answer.status_code, answer.json()) == (expected.status_code, expected.json())
    assert answer.status_code == 422
    [error] = answer.json()["errors"]
    assert (error["index"], error["field"]) == (7, "latency_ms")
    assert answer.json()["redactions"] == {"email": len(body["records"]) - 1}
    assert pooled_rows == inline_rows and len(pooled_rows) == len(body["records"]) - 1
    assert "[EMAIL]" in pooled_rows[0]["prompt"]
    # The app's end stops its processes.
    assert not (started & _pool_processes())


def test_a_small_batch_is_prepared_in_the_request(client):
    before = _pool_processes()
    answer = client.post("/v1/responses", json={"records": [record(i) for i in range(3)]})
    assert answer.status_code == 201
    assert _pool_processes() == before
    assert client.app.state.prepare_pool._pool is None


@pytest.mark.skipif(os.name != "posix", reason="kills processes with SIGKILL")
def test_a_broken_pool_is_answered_in_the_request_and_replaced(client, caplog):
    first = client.post("/v1/responses", json=_batch(SHARED_FROM_RECORDS))
    assert first.status_code == 422
    for pid in _pool_processes():
        os.kill(pid, signal.SIGKILL)
    # The pool notices the dead processes when it is next used: this batch is still stored.
    second = client.post("/v1/responses", json=_batch(SHARED_FROM_RECORDS, offset=1000))
    assert second.status_code == 422
    assert second.json()["stored"] == SHARED_FROM_RECORDS - 1
    assert "the preparing processes failed" in caplog.text
    third = client.post("/v1/responses", json=_batch(SHARED_FROM_RECORDS, offset=2000))
    assert third.json()["stored"] == SHARED_FROM_RECORDS - 1
    assert _pool_processes(), "no new pool after the broken one"


SERVER = """
import multiprocessing, sys, time
from evalkit.capture.parallel import SharedPool
pool = SharedPool(2)
pool.start()
deadline = time.monotonic() + 60
while len(multiprocessing.active_children()) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
time.sleep(600)
"""


@pytest.mark.skipif(os.name != "posix", reason="kills processes with SIGKILL")
def test_the_pool_leaves_when_its_server_is_killed():
    import subprocess
    import sys
    import time

    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        children = [int(pid) for pid in server.stdout.readline().split()]
        assert len(children) >= 2, children
    finally:
        server.kill()  # no shutdown runs: as a supervisor's SIGKILL or the OOM killer
        server.wait()

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True

    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    left = [pid for pid in children if alive(pid)]
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, "the preparing processes outlived their server"
