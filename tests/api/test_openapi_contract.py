"""The published OpenAPI spec and the server agree: Schemathesis, every check, bounded.

Run as an outside tester runs it: the ``schemathesis`` command against ``/openapi.json`` of a
real ``evalkit serve``, with its example, coverage and fuzzing phases (coverage is the phase
that tries each boundary: an empty id, a null where the spec says string). A client generated
from the spec must be right, so the spec says what the server does (null or "" = not given, an
empty id = none, numbers as text, epoch timestamps; see ``api.body_doc.as_accepted``).

Statuses that count as the server accepting schema-valid data besides 2xx: 404 (an id nobody
stored) and 422, the documented answer for a record that is well formed but cannot be stored in
the store's present state (a feedback event about a response that is not stored, an id already
stored with other content) or breaks a rule the schema states only in words (rating values);
``errors`` then names the record. The routes are capture's; a stage adding routes adds them to
``ROUTES``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROUTES = r"^/(v1/responses|v1/feedback|healthz)"
TOKEN = "contract-t0ken"
BIN = Path(sys.executable).parent
CONFIG = """\
[checks.positive_data_acceptance]
expected-statuses = [200, 201, 404, 422]

[checks.negative_data_rejection]
expected-statuses = [400, 401, 404, 413, 415, 422]
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_server_does_what_its_spec_says(tmp_path):
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "EVALKIT_API_TOKEN": TOKEN,
        "EVALKIT_DATA_DIR": str(tmp_path / "data"),
        "EVALKIT_DATABASE_URL": f"sqlite:///{tmp_path / 'contract.db'}",
    }
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(BIN / "evalkit"), "serve", "--port", str(port)],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"evalkit serve did not start:\n{log.read_text()}")
            time.sleep(0.2)
        config = tmp_path / "schemathesis.toml"
        config.write_text(CONFIG)
        run = subprocess.run(
            [
                str(BIN / "schemathesis"),
                "--config-file",
                str(config),
                "run",
                f"{base}/openapi.json",
                "--checks",
                "all",
                "-H",
                f"Authorization: Bearer {TOKEN}",
                "--include-path-regex",
                ROUTES,
                "--phases",
                "examples,coverage,fuzzing",
                "--max-examples",
                "25",
                "--seed",
                "1",
                "--workers",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=240,
            cwd=tmp_path,
            env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
            check=False,
        )
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert "Operations:       4 selected" in run.stdout  # every capture route was tested
