"""The Label Studio bridge against a real Label Studio server on loopback (slow).

Label Studio cannot share evalkit's venv (it pins older openai and pyarrow), so it runs from its
own, ``.venv-labelstudio/`` at the project root (``EVALKIT_TEST_LABEL_STUDIO`` may point at another
``label-studio`` executable); ``make test`` creates it (``make labelstudio``). The server gets a
fresh copy of a migrated, never-used data folder and its admin token, binds 127.0.0.1 only, and
is stopped at the end of the session. Without the venv the test skips with the reason (fails
under EVALKIT_REQUIRE_SERVICES=1).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import shutil
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
#: Starting on an empty data folder migrates a new database: about 50 s on an idle machine, over
#: three minutes on a loaded one; a start on a migrated one takes a quarter of that.
START_TIMEOUT_S = 300.0
#: A migrated, never-used data folder (and its admin token), made on the first run and copied
#: for every later one: each session still gets a server with no projects, tasks or users of
#: its own, without paying for the migrations again. It sits with the Label Studio install
#: whose schema it has, so a new install (``make clean``) makes a new one.
TEMPLATE = EXECUTABLE.parent.parent / "evalkit-test-data"
ADMIN = "admin@example.com"


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


@contextlib.contextmanager
def _serve(data: Path, token: str) -> Iterator[str]:
    """Label Studio on a free loopback port over ``data`` until the block ends."""
    env = {
        **os.environ,
        "LABEL_STUDIO_BASE_DATA_DIR": str(data),
        "LABEL_STUDIO_USERNAME": ADMIN,
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
    port = free_port()
    # --internal-host binds the address; --host alone would still listen on every interface.
    command = [str(EXECUTABLE), "start", "--no-browser", "--internal-host", "127.0.0.1"]
    command += ["--port", str(port)]
    log_path = data / "server.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _healthy(url):
                if proc.poll() is not None or time.monotonic() > deadline:
                    tail = log_path.read_text(errors="replace")[-3000:]
                    pytest.fail(
                        f"Label Studio did not start at {url} (exit {proc.poll()}):\n{tail}"
                    )
                time.sleep(1.0)
            yield url
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


def _template(scratch: Path) -> tuple[Path, str]:
    """The migrated empty data folder and its token, made once (under a lock: xdist)."""
    TEMPLATE.parent.mkdir(parents=True, exist_ok=True)
    with (TEMPLATE.parent / "evalkit-test-data.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (TEMPLATE / "token").exists():
            token = secrets.token_hex(20)
            with _serve(scratch, token):
                pass  # healthy once: migrated, the admin and its token made
            building = TEMPLATE.with_name(TEMPLATE.name + ".new")
            shutil.rmtree(building, ignore_errors=True)
            building.mkdir()
            for db_file in scratch.glob("label_studio.sqlite3*"):
                shutil.copy2(db_file, building / db_file.name)
            (building / "token").write_text(token)
            building.rename(TEMPLATE)
    return TEMPLATE, (TEMPLATE / "token").read_text().strip()


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudioServer]:
    if not EXECUTABLE.exists():
        require_service(
            f"no Label Studio at {EXECUTABLE}: create it with `make labelstudio` "
            "(python3 -m venv .venv-labelstudio && .venv-labelstudio/bin/pip install label-studio)"
        )
    template, token = _template(tmp_path_factory.mktemp("label-studio-template"))
    data = tmp_path_factory.mktemp("label-studio")
    for db_file in template.glob("label_studio.sqlite3*"):
        shutil.copy2(db_file, data / db_file.name)
    with _serve(data, token) as url:
        yield LabelStudioServer(url=url, token=token, admin_email=ADMIN)


pytestmark = pytest.mark.slow


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
    assert client.users.whoami().email == label_studio.admin_email
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
