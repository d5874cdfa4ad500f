"""``evalkit serve --workers N``: several processes on one port, one store, one metrics view."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from evalkit import Guard
from evalkit.store.database import Database
from evalkit.store.queries import count_responses
from tests.guard.test_http import register_trained
from tests.helpers import record, stop_process

TOKEN = "workers-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EVALKIT = Path(sys.executable).parent / "evalkit"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVALKIT_", "PROMETHEUS_"))}
    env.update({"EVALKIT_DATA_DIR": str(tmp_path / "data"), "EVALKIT_API_TOKEN": TOKEN, **extra})
    return env


def _workers(pid: int) -> list[int]:
    """Server processes spawned by ``pid`` (not multiprocessing's resource tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if fields[1] == str(pid) and b"spawn_main" in command:
            found.append(int(stat.parent.name))
    return found


def _counted_by_process(metrics_dir: Path) -> dict[str, float]:
    """Checks counted in each process's metric file (prometheus_client's multiprocess mode)."""
    from prometheus_client.mmap_dict import MmapedDict

    counted = {}
    for path in metrics_dir.glob("*/counter_*.db"):
        total = sum(
            value
            for key, value, *_rest in MmapedDict.read_all_values_from_file(str(path))
            if "evalkit_guard_checks" in key
        )
        counted[path.name] = total
    return counted


def _metric(text: str, name: str) -> float:
    values = [float(v) for v in re.findall(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.M)]
    assert values, f"{name} not in /metrics"
    return sum(values)


@pytest.mark.slow
def test_two_workers_share_the_port_the_store_and_the_counts(tmp_path, trained):
    data = tmp_path / "data"
    data.mkdir()
    db = Database.open(f"sqlite:///{data / 'evalkit.db'}")
    register_trained(db, trained)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    log = (tmp_path / "serve.log").open("w")
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    proc = subprocess.Popen(
        [str(EVALKIT), "serve", "--port", str(port), "--workers", "2"],
        env=_env(tmp_path, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)),
        cwd=tmp_path,  # no stray .env of the developer's is read
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_workers(proc.pid)) < 2 or not _healthy(base):
            if proc.poll() is not None:
                pytest.fail(f"evalkit serve exited: {(tmp_path / 'serve.log').read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"two workers did not start: {(tmp_path / 'serve.log').read_text()}")
            time.sleep(0.3)
        health = httpx.get(f"{base}/healthz", timeout=5).json()
        assert health["classifier_version"] == trained.version

        items = [
            {"prompt": f"Question {i}?", "response": f"Answer number {i}, for sure.", "id": f"c{i}"}
            for i in range(40)
        ]

        def post(i: int) -> tuple[httpx.Response, httpx.Response]:
            # A fresh connection per request, so both workers get some of them.
            checked = httpx.post(f"{base}/v1/check", json=items[i], headers=AUTH, timeout=30)
            stored = httpx.post(f"{base}/v1/responses", json=record(i), headers=AUTH, timeout=30)
            return checked, stored

        with ThreadPoolExecutor(8) as pool:
            answers = list(pool.map(post, range(40)))
        assert {(c.status_code, s.status_code) for c, s in answers} == {(200, 201)}
        assert count_responses(db) == 40

        # Each worker loaded the same classifier: the answers are the in-process guard's.
        local = Guard.load(trained.path)
        for item, (checked, _) in zip(items, answers, strict=True):
            expected = local.check(prompt=item["prompt"], response=item["response"])
            got = checked.json()
            assert got["action"] == expected.action
            for head, score in expected.scores.items():
                assert got["scores"][head] == pytest.approx(score, abs=1e-9)

        # Both workers answered some (so the sum below is a sum), and one scrape counts every
        # worker's requests, whichever worker answers it.
        by_process = _counted_by_process(metrics_dir)
        assert sum(1 for n in by_process.values() if n > 0) >= 2, by_process
        for _ in range(3):
            text = httpx.get(f"{base}/metrics", timeout=10).text
            assert _metric(text, "evalkit_guard_checks_total") == 40
            assert _metric(text, 'evalkit_guard_requests_total{status="200"}') == 40
            assert _metric(text, "evalkit_guard_latency_seconds_count") == 40
            assert _metric(
                text, f'evalkit_guard_classifier_info{{version="{trained.version}"}}'
            ) == pytest.approx(1)
    finally:
        stop_process(proc, timeout=20)
        log.close()
        db.dispose()
    assert proc.returncode == 0, (tmp_path / "serve.log").read_text()
    assert list(metrics_dir.iterdir()) == [], "the run's metric files were left behind"


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_workers_fail_before_starting_when_the_store_cannot_be_opened(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    done = subprocess.run(
        [str(EVALKIT), "serve", "--port", str(_free_port()), "--workers", "2"],
        env=_env(tmp_path, EVALKIT_DATABASE_URL=f"sqlite:///{blocker}/sub/evalkit.db"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert "cannot open the store" in done.stderr
