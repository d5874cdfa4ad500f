"""The Label Studio bridge against a real Label Studio server on loopback (slow).

Label Studio cannot share evalkit's venv (it pins older openai and pyarrow), so it runs from its
own, ``.venv-labelstudio/`` at the project root (``EVALKIT_TEST_LABEL_STUDIO`` may point at another
``label-studio`` executable); ``.ci/run`` and ``make labelstudio`` create it. The server gets an
empty data folder and a known admin token, binds 127.0.0.1 only, and is stopped at the end of the
session. Without the venv the tests skip with the reason (fail under EVALKIT_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import require_service

ROOT = Path(__file__).resolve().parents[2]
EXECUTABLE = Path(
    os.environ.get("EVALKIT_TEST_LABEL_STUDIO", ROOT / ".venv-labelstudio" / "bin" / "label-studio")
)
#: Starting on an empty data folder migrates a new database: about 50 s on an idle machine,
#: two to three minutes on a loaded one.
START_TIMEOUT_S = 240.0


@dataclass(frozen=True)
class LabelStudioServer:
    url: str
    token: str
    admin_email: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    if not EXECUTABLE.exists():
        require_service(
            f"no Label Studio at {EXECUTABLE}: create it with `make labelstudio` "
            "(python3 -m venv .venv-labelstudio && .venv-labelstudio/bin/pip install label-studio)"
        )
    data = tmp_path_factory.mktemp("label-studio")
    port = free_port()
    token = secrets.token_hex(20)
    email = "admin@example.com"
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_USERNAME": email,
        "LABEL_STUDIO_PASSWORD": secrets.token_urlsafe(12),
        "LABEL_STUDIO_USER_TOKEN": token,
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
        # No call home: no version check against PyPI, no error reporting.
        "LATEST_VERSION_CHECK": "false",
        "COLLECT_ANALYTICS": "false",
        "SENTRY_DSN": "",
        "FRONTEND_SENTRY_DSN": "",
    }
    # --internal-host binds the address; --host alone would still listen on every interface.
    command = [str(EXECUTABLE), "start", "--no-browser", "--internal-host", "127.0.0.1"]
    command += ["--port", str(port)]
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not _healthy(url):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (data / "server.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"Label Studio did not start at {url} (exit {proc.poll()}):\n{tail}")
            time.sleep(1.0)
        yield LabelStudioServer(url=url, token=token, admin_email=email)
    finally:
        # The server forks workers; stop its whole process group, ours alone.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=5)
        log.close()


pytestmark = pytest.mark.slow


def test_the_server_answers_the_sdk_with_the_admin_token(label_studio: LabelStudioServer):
    from label_studio_sdk import LabelStudio

    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    assert client.users.whoami().email == label_studio.admin_email
