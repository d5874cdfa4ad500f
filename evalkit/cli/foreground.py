"""Serve the reviewer app and the HTTP API in the foreground until Ctrl-C: the demo's last step.

Both run as child processes of the command (``streamlit run`` and ``evalkit serve``), so each has
its own event loop and a crash in one shows its own traceback; this module starts them on free
loopback ports, waits until both answer, prints where they are, and on Ctrl-C or SIGTERM stops
both and returns. A child that dies on its own stops the other too: a half-served demo would
only confuse.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from evalkit.errors import UsageError

#: ``reviewer_app/`` sits beside the package in a source checkout (the Quickstart's layout).
REVIEWER_APP = Path(__file__).resolve().parents[2] / "reviewer_app" / "Home.py"


#: How a child runs the ``evalkit`` command with this very interpreter (no PATH lookup).
_CLI = "from evalkit.cli import main; main()"


@dataclass(frozen=True)
class Served:
    name: str
    url: str
    process: subprocess.Popen[bytes]


def free_port(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` when nothing listens there, else a port the kernel hands out."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise UsageError(f"no free port on {host}")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as reply:
            return 200 <= reply.status < 500
    except OSError:
        return False


def start_services(
    env: Mapping[str, str],
    *,
    api_port: int = 8000,
    app_port: int = 8501,
    host: str = "127.0.0.1",
    log_dir: Path,
) -> list[Served]:
    """Start the API and the reviewer app; return once both answer (or raise, stopping both)."""
    if not REVIEWER_APP.exists():
        raise UsageError(f"the reviewer app is not at {REVIEWER_APP} (run from a source checkout)")
    log_dir.mkdir(parents=True, exist_ok=True)
    api_port, app_port = free_port(api_port, host), free_port(app_port, host)
    child_env = {**os.environ, **env}
    commands: list[tuple[str, Sequence[str], str, str]] = [
        (
            "api",
            [sys.executable, "-c", _CLI, "serve", "--host", host, "--port", str(api_port)],
            f"http://{host}:{api_port}",
            f"http://{host}:{api_port}/healthz",
        ),
        (
            "reviewer app",
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(REVIEWER_APP),
                "--server.headless",
                "true",
                "--server.address",
                host,
                "--server.port",
                str(app_port),
                "--browser.gatherUsageStats",
                "false",
            ],
            f"http://{host}:{app_port}",
            f"http://{host}:{app_port}/_stcore/health",
        ),
    ]
    served: list[Served] = []
    try:
        for name, argv, url, health in commands:
            log = (log_dir / f"{name.replace(' ', '-')}.log").open("ab")
            process = subprocess.Popen(
                list(argv), env=child_env, stdout=log, stderr=subprocess.STDOUT
            )
            served.append(Served(name, url, process))
            _wait_until_up(name, process, health, log_dir)
    except BaseException:
        stop_services(served)
        raise
    return served


def _wait_until_up(
    name: str, process: subprocess.Popen[bytes], health: str, log_dir: Path, timeout: float = 90
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise UsageError(
                f"the {name} exited with code {process.returncode} while starting; "
                f"see {log_dir / (name.replace(' ', '-') + '.log')}"
            )
        if _answers(health):
            return
        time.sleep(0.3)
    raise UsageError(f"the {name} did not answer {health} within {timeout:.0f} s")


def stop_services(served: Sequence[Served], grace: float = 10) -> None:
    for item in served:
        if item.process.poll() is None:
            item.process.terminate()
    deadline = time.monotonic() + grace
    for item in served:
        try:
            item.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            item.process.kill()
            item.process.wait()


def serve_until_interrupted(
    served: Sequence[Served],
    *,
    announce: Callable[[], None] | None = None,
    poll: Callable[[], None] | None = None,
) -> str:
    """Block until Ctrl-C, SIGTERM or a child's exit; stop every child; say why it ended.

    ``announce`` (printing where things are) runs inside the guarded block: a Ctrl-C that
    arrives while it prints still stops the children and ends cleanly."""
    stop = {"why": ""}

    def _on_term(_signum: int, _frame: object) -> None:
        stop["why"] = "terminated"

    previous = signal.signal(signal.SIGTERM, _on_term)
    try:
        if announce is not None:
            announce()
        while not stop["why"]:
            for item in served:
                if item.process.poll() is not None:
                    stop["why"] = f"the {item.name} exited with code {item.process.returncode}"
            if poll is not None:
                poll()
            time.sleep(0.5)
    except KeyboardInterrupt:
        stop["why"] = "interrupted"
    finally:
        signal.signal(signal.SIGTERM, previous)
        stop_services(served)
    return stop["why"]
