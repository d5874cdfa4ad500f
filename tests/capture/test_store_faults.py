"""A store the process cannot write is a store fault, on every path, not a pile of rejections.

The SDK retries it like an unreachable store and says so in ``stats``, the log and ``flush()``;
file ingest exits 3; the HTTP API answers 503. Root ignores file permissions, so a read-only
SQLite store is made two ways SQLite honours for anyone: a file opened with ``mode=ro``, and
(for the tester's own setup) a 0444 file written to by a process running as ``nobody``. A
read-only PostgreSQL store is a session whose transactions are read-only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from evalkit import Recorder
from evalkit.api.app import create_app
from evalkit.cli import app as cli_app
from evalkit.store.database import Database
from evalkit.store.queries import count_responses
from tests.api.conftest import TOKEN
from tests.helpers import record, write_jsonl

PYTHON = Path(sys.executable)
READONLY = "attempt to write a readonly database"


def _sqlite_store(path: Path) -> Path:
    Database.open(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture
def readonly_url(store_url: str) -> str:
    """The store of ``store_url`` (migrated, empty) opened so that every write to it fails for
    a reason of the store's own."""
    url = make_url(store_url)
    if url.get_backend_name() == "sqlite":
        path = _sqlite_store(Path(str(url.database)))
        return f"sqlite:///file:{path}?mode=ro&uri=true"
    options = {"options": "-c default_transaction_read_only=on"}
    return url.update_query_dict(options).render_as_string(hide_password=False)


def test_the_sdk_retries_a_read_only_store_and_says_so(readonly_url, settings, caplog):
    recorder = Recorder(settings, database_url=readonly_url, flush_interval=0.05)
    try:
        for i in range(3):
            recorder.record(id=f"r-{i}", response=f"answer {i}")
        assert recorder.flush(timeout=1.0) is False  # honest: nothing could be written
        stats = recorder.stats
        assert (stats.written, stats.rejected, stats.dropped) == (0, 0, 0)
        assert stats.write_failures >= 1
        assert stats.last_error is not None and stats.last_error.startswith("StoreError:")
        assert "cannot write to the store, will retry (3 records waiting)" in caplog.text
        assert "rejected" not in caplog.text
    finally:
        recorder.close(timeout=0.2)
    assert recorder.stats.dropped == 3  # counted as lost when close gives up, not as rejected


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A folder any user can reach (pytest's own are private to their owner)."""
    folder = Path(tempfile.mkdtemp(prefix="evalkit-ro-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_sdk_as_a_user_who_cannot_write_the_file(open_folder):
    # The tester's setup: a 0444 store in a directory the process may write (so SQLite opens it
    # and only the writes fail), the SDK running as a user other than the file's owner.
    if os.geteuid() == 0 and shutil.which("setpriv") is None:
        pytest.fail("running as root without setpriv: cannot drop privileges for this test")
    folder = open_folder
    path = _sqlite_store(folder / "store.db")
    path.chmod(0o444)
    script = textwrap.dedent(
        f"""
        import json, logging, sys, time
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
        from evalkit import Recorder
        r = Recorder(database_url="sqlite:///{path}", flush_interval=0.05)
        for i in range(5):
            r.record(id=f"r-{{i}}", response=f"answer {{i}}")
        deadline = time.monotonic() + 60  # the first attempt follows the store's imports
        while r.stats.write_failures == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        flushed = r.flush(timeout=0.5)
        s = r.stats
        print(json.dumps({{"flushed": flushed, "rejected": s.rejected, "written": s.written,
                          "failures": s.write_failures, "last_error": s.last_error}}))
        r.close(timeout=0.2)
        """
    )
    command = [str(PYTHON), "-c", script]
    if os.geteuid() == 0:
        os.chown(folder, 65534, 65534)  # nobody may create the WAL files beside the store
        command = ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", *command]
    env = {**os.environ, "HOME": str(folder)}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, cwd=folder, check=False
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["flushed"] is False
    assert (result["rejected"], result["written"]) == (0, 0)
    assert result["failures"] >= 1 and READONLY in result["last_error"]
    assert "will retry" in done.stderr and "record rejected" not in done.stderr


def test_file_ingest_into_a_read_only_store_exits_3(readonly_url, tmp_path):
    source = write_jsonl(tmp_path / "in.jsonl", [record(i) for i in range(4)])
    result = CliRunner().invoke(
        cli_app,
        ["ingest", str(source)],
        env={"EVALKIT_DATA_DIR": str(tmp_path / "data"), "EVALKIT_DATABASE_URL": readonly_url},
        catch_exceptions=False,
    )
    assert result.exit_code == 3, result.output
    assert "failed" in result.output and "line" not in result.output  # one error, no per-record


def test_http_ingest_into_a_read_only_store_is_a_503(readonly_url, settings):
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    api = create_app(
        settings.model_copy(update={"api_token": SecretStr(TOKEN), "database_url": readonly_url})
    )
    with TestClient(api, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        answer = client.post("/v1/responses", json={"records": [record(1), record(2)]})
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("the store at ")


def test_a_sqlite_uri_filename_creates_no_folder(tmp_path, monkeypatch):
    path = _sqlite_store(tmp_path / "store.db")
    monkeypatch.chdir(tmp_path)
    db = Database.open(f"sqlite:///file:{path}?mode=ro&uri=true")
    try:
        assert count_responses(db) == 0
    finally:
        db.dispose()
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == []
