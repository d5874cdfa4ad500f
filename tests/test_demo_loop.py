"""Quickstart line 1 as a new user runs it: the whole loop, then the app and the API served.

The loop test runs every stage on a small demo store and checks what each left in the store,
not only what it printed; the serving test starts the command as a process, talks to both
servers, and stops it with Ctrl-C as a user would.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.learn.embed import STATIC_MODEL_NAME

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]


def _share_static_model(data_dir: Path) -> None:
    """Point the demo's model cache at the one the learn tests distil (once per checkout)."""
    from tests.learn.support import static_model

    cache = data_dir / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    (cache / STATIC_MODEL_NAME).symlink_to(static_model(), target_is_directory=True)


def test_the_whole_loop_leaves_every_stage_in_the_store(tmp_path):
    data_dir = tmp_path / "data"
    _share_static_model(data_dir)
    env = {"EVALKIT_DATA_DIR": str(data_dir), "EVALKIT_DEMO_SERVE": "0"}
    result = CliRunner().invoke(app, ["demo", "--n", "600", "--quiet"], env=env)
    out = result.output
    assert result.exit_code == 0, out
    for title in ("Sample and review", "Learn:", "Gate:", "Watch:"):
        assert title in out
    assert "Gate candidate-good: PASSED" in out
    assert "Gate candidate-regressed vs candidate-good: FAILED" in out
    assert "Serving" not in out  # EVALKIT_DEMO_SERVE=0 exits after the loop

    engine = create_engine(f"sqlite:///{data_dir / 'evalkit.db'}")
    with engine.connect() as conn:
        reviewed = conn.execute(
            text("SELECT COUNT(DISTINCT response_id) FROM labels WHERE source_kind = 'review'")
        ).scalar_one()
        active = conn.execute(
            text("SELECT artifact_path FROM classifier_versions WHERE active")
        ).all()
        verdicts = conn.execute(text("SELECT candidate, passed FROM gate_runs ORDER BY id")).all()
        reviewers = {r[0] for r in conn.execute(text("SELECT username FROM reviewers"))}
        targeted = dict(
            conn.execute(
                text(
                    "SELECT strategy, COUNT(*) FROM review_items WHERE status = 'pending' "
                    "AND strategy IN ('risk', 'uncertainty', 'suspect') GROUP BY strategy"
                )
            ).all()
        )
    engine.dispose()
    assert reviewed >= 200
    assert len(active) == 1 and Path(active[0][0]).is_dir()
    assert {(c, bool(p)) for c, p in verdicts} >= {
        ("candidate-good", True),
        ("candidate-regressed", False),
    }
    assert {"demo-admin", "demo-adjudicator", "demo-reviewer-1", "demo-reviewer-2"} <= reviewers
    # The classifier chose what people review next: risk-first, uncertainty, suspect labels.
    assert targeted.get("risk") == 15 and targeted.get("uncertainty") == 10, targeted
    assert targeted.get("suspect", 0) > 0, targeted
    assert "Risk sampling queued 15 responses" in out
    report = data_dir / "demo" / "report.html"
    assert report.exists() and "<svg" in report.read_text(encoding="utf-8")

    # Running it again stores no new traffic and keeps the reviewed queue as it is.
    again = CliRunner().invoke(app, ["demo", "--n", "600", "--quiet", "--until", "review"], env=env)
    assert again.exit_code == 0, again.output
    assert "stored 0" in again.output
    assert "kept as it is" in again.output


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=5) as reply:
        return int(reply.status)


def test_the_demo_serves_the_app_and_the_api_until_ctrl_c(tmp_path):
    env = {
        **os.environ,
        "EVALKIT_DATA_DIR": str(tmp_path / "data"),
        "EVALKIT_DEMO_SERVE": "1",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("EVALKIT_DATABASE_URL", None)
    command = [sys.executable, "-c", "from evalkit.cli import main; main()"]
    # Ports 0: the kernel picks free ones, so a server already on 8000/8501 does not matter.
    args = ["demo", "--n", "50", "--until", "review", "--quiet", "--api-port", "0"]
    proc = subprocess.Popen(
        [*command, *args, "--app-port", "0"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 240
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "demo-reviewer-2 /" in line:  # the last line before it waits
                break
        printed = "".join(lines)
        api = re.search(r"api\s+(http://127\.0\.0\.1:\d+)", printed)
        ui = re.search(r"reviewer app\s+(http://127\.0\.0\.1:\d+)", printed)
        assert api and ui, printed
        assert _get(api.group(1) + "/healthz") == 200
        assert _get(ui.group(1) + "/_stcore/health") == 200
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    printed += rest
    assert proc.returncode == 0, printed
    for account in ("demo-reviewer-1", "demo-adjudicator", "demo-admin"):
        assert account in printed
    assert "Stopped (interrupted)" in printed
