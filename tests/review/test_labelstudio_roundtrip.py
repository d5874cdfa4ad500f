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


def _choices(name: str, value: str) -> dict:
    return {
        "from_name": name,
        "to_name": "response",
        "type": "choices",
        "value": {"choices": [value]},
    }


def test_export_is_idempotent_and_annotations_come_back_by_annotator(label_studio):
    from label_studio_sdk import LabelStudio

    from evalkit.review import labelstudio as bridge

    client = LabelStudio(base_url=label_studio.url, api_key=label_studio.token)
    title = f"evalkit round trip {secrets.token_hex(3)}"
    project = bridge.ensure_project(client, title)
    assert project.created
    again = bridge.ensure_project(client, title)
    assert (again.id, again.created, again.config_updated) == (project.id, False, False)
    # A project whose config drifted from the schema is brought back in line.
    client.projects.update(
        id=project.id,
        label_config='<View><Text name="response" value="$response"/>'
        '<Choices name="hallucination" toName="response"><Choice value="yes"/></Choices></View>',
    )
    assert bridge.ensure_project(client, title).config_updated
    assert client.projects.get(id=project.id).label_config.strip() == bridge.label_config().strip()

    tasks = [
        bridge.task_for(10 + i, f"r-{i}", f"question {i}", None, f"answer {i} <b>bold?</b>")
        for i in range(3)
    ]
    assert bridge.push_tasks(client, project, tasks).pushed == 3
    second = bridge.push_tasks(client, project, [*tasks, bridge.task_for(13, "r-3", "q", "", "a")])
    assert (second.pushed, second.already) == (1, 3)

    run = secrets.token_hex(3)  # a server may outlive one test: names of this run only
    email = {name: f"{name}-{run}@example.com" for name in ("ann", "bea")}
    users = {
        name: client.users.create(username=f"{name}-{run}", email=address, password="pw-" * 4)
        for name, address in email.items()
    }
    by_item = {int(t.data["evalkit_item_id"]): t.id for t in client.tasks.list(project=project.id)}
    good = [_choices("hallucination", "yes"), _choices("tone", "impolite")]
    good += [_choices("harm", "medium"), _choices("harm__category", "financial")]
    good += [_choices("tone__off_brand", "true")]
    good += [
        {
            "from_name": "hallucination__span",
            "to_name": "response",
            "type": "textarea",
            "value": {"text": ["answer 0"]},
        }
    ]
    client.annotations.create(
        id=by_item[10], result=good, completed_by=users["ann"].id, lead_time=8
    )
    plain = [_choices("hallucination", "no"), _choices("tone", "polite"), _choices("harm", "none")]
    client.annotations.create(id=by_item[10], result=plain, completed_by=users["bea"].id)
    # harm high without its category: the schema refuses it, so the import reports it
    bad = [_choices("hallucination", "no"), _choices("tone", "polite"), _choices("harm", "high")]
    client.annotations.create(id=by_item[11], result=bad, completed_by=users["bea"].id)
    client.annotations.create(
        id=by_item[12], result=[], was_cancelled=True, completed_by=users["ann"].id
    )

    pulled = bridge.pull_annotations(client, project.id)
    got = {
        (a.item_id, a.annotator): {
            k: (v.value, dict(v.fields)) for k, v in a.submission.labels.items()
        }
        for a in pulled.annotations
    }
    assert got == {
        (10, email["ann"]): {
            "hallucination": ("yes", {"span": "answer 0"}),
            "tone": ("impolite", {"off_brand": True}),
            "harm": ("medium", {"category": "financial"}),
        },
        (10, email["bea"]): {
            "hallucination": ("no", {}),
            "tone": ("polite", {}),
            "harm": ("none", {}),
        },
    }
    seconds = {a.annotator: a.submission.seconds for a in pulled.annotations}
    assert seconds[email["ann"]] == 8.0
    assert [(r.item_id, "category" in r.reason) for r in pulled.rejected] == [(11, True)]
    assert pulled.skipped == 1
    # pulling again reads the same annotations (the store side makes storing them idempotent)
    assert {a.annotation_id for a in bridge.pull_annotations(client, project.id).annotations} == {
        a.annotation_id for a in pulled.annotations
    }
