"""Live candidates: a stand-in OpenAI-compatible server on loopback, a Python callable, repeats.

The server is a real HTTP server in a thread; evalkit's own code is not mocked.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.gate import load_outputs, load_suite
from evalkit.gate.runners import EndpointConfig, run_endpoint
from tests.gate.gate_helpers import case, write_outputs, write_suite

runner = CliRunner()


class StandIn(BaseHTTPRequestHandler):
    """Answers chat completions from the last user message, with scripted misbehaviour:
    ``flaky`` fails with 503 on its first call; ``slow`` never answers in time; ``bad`` is 400;
    ``coin`` alternates a right and a wrong answer between calls."""

    calls: ClassVar[dict[str, int]] = {}
    seen: ClassVar[list[dict]] = []
    lock = threading.Lock()

    def log_message(self, *args):  # keep pytest output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            StandIn.seen.append(
                {"path": self.path, "auth": self.headers.get("Authorization"), **body}
            )
            question = body["messages"][-1]["content"]
            n = StandIn.calls[question] = StandIn.calls.get(question, 0) + 1
        if "flaky" in question and n == 1:
            return self._send(503, {"error": "overloaded"})
        if "slow" in question:
            time.sleep(1.0)
        if "bad" in question:
            return self._send(400, {"error": "bad request"})
        answer = "ok 30 days" if "coin" not in question or n % 2 else "no idea"
        self._send(200, {"choices": [{"message": {"role": "assistant", "content": answer}}]})

    def _send(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # client timed out
            self.wfile.write(data)


@pytest.fixture
def server() -> Iterator[str]:
    StandIn.calls, StandIn.seen = {}, []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


def suite_file(tmp_path, *questions: str, **header):
    cases = [
        case(q.replace(" ", "-"), {"type": "contains", "value": "30 days"}, prompt=q)
        for q in questions
    ]
    return write_suite(tmp_path / "live.yaml", cases, **header)


def test_endpoint_runner_retries_times_out_and_records_errors(server, tmp_path):
    suite = load_suite(suite_file(tmp_path, "plain", "flaky once", "slow one", "bad one"))
    config = EndpointConfig(
        url=server, model="cand-1", api_key="k-123", timeout_s=0.3, retries=1, backoff_s=0.01
    )
    rows = {r.id: r for r in run_endpoint([suite], config)}
    assert rows["plain"].output == "ok 30 days" and rows["plain"].latency_ms > 0
    assert rows["flaky-once"].output == "ok 30 days"  # the 503 was retried
    assert rows["slow-one"].output is None
    assert rows["slow-one"].error == "timed out after 0.3 s (2 attempts)"
    assert rows["bad-one"].error.startswith("HTTP 400")  # a client error is not retried
    assert StandIn.calls["bad one"] == 1 and StandIn.calls["flaky once"] == 2
    first = StandIn.seen[0]
    assert first["path"] == "/v1/chat/completions" and first["model"] == "cand-1"
    assert first["auth"] == "Bearer k-123"


def test_gate_on_a_live_endpoint_saves_outputs_and_repeats(server, tmp_path, monkeypatch):
    suite = suite_file(tmp_path, "plain", "coin toss", thresholds={"pass_rate": 0.5})
    saved = tmp_path / "saved.jsonl"
    monkeypatch.setenv("STANDIN_KEY", "secret-1")
    result = runner.invoke(
        app,
        ["gate", str(suite), "--endpoint", server, "--model", "cand-2", "--repeat", "3",
         "--api-key-env", "STANDIN_KEY", "--save-outputs", str(saved),
         "--json", str(tmp_path / "r.json"), "--no-record"],
        env={"EVALKIT_DATA_DIR": str(tmp_path / "d")},
        catch_exceptions=False,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert f"Outputs: 6 from cand-2 → {saved}" in result.output
    assert "flaky (1): coin-toss" in result.output
    assert {s["auth"] for s in StandIn.seen} == {"Bearer secret-1"}
    rows = load_outputs(saved).rows
    assert [r.id for r in rows].count("coin-toss") == 3
    report = json.loads((tmp_path / "r.json").read_text())["suites"][0]
    coin = next(c for c in report["cases"] if c["id"] == "coin-toss")
    assert coin["status"] == "flaky" and coin["pass_fraction"] == pytest.approx(2 / 3)
    assert coin["verdict"] is True  # 2/3 ≥ repeat_pass_fraction 0.5
    assert coin["reasons"] == ["contains: does not contain '30 days' (1/3 runs)"]
    assert report["flaky"] == ["coin-toss"]
    # The saved outputs are judged again without calling the endpoint: the same verdicts.
    calls = len(StandIn.seen)
    again = runner.invoke(
        app,
        ["gate", str(suite), "--outputs", str(saved), "--no-record"],
        env={"EVALKIT_DATA_DIR": str(tmp_path / "d")},
    )
    assert again.exit_code == 0 and len(StandIn.seen) == calls


def test_a_flaky_critical_case_does_not_decide_alone_but_a_failing_one_does(tmp_path):
    suite = write_suite(
        tmp_path / "s.yaml",
        [
            case("crit-flaky", {"type": "contains", "value": "yes"}, critical=True),
            case("crit-bad", {"type": "contains", "value": "yes"}, critical=True),
        ],
        thresholds={"pass_rate": 0.0},
    )
    rows = [{"id": "crit-flaky", "output": o} for o in ("yes", "no", "no")]
    outputs = write_outputs(tmp_path / "o.jsonl", rows)
    env = {"EVALKIT_DATA_DIR": str(tmp_path / "d")}
    result = runner.invoke(
        app, ["gate", str(suite), "--outputs", str(outputs), "--no-record"], env=env
    )
    assert result.exit_code == 1
    assert "failing: crit-bad" in result.output  # no output at all: a failure
    assert "flaky (not decisive alone): crit-flaky" in result.output
    rows.append({"id": "crit-bad", "output": "yes"})
    write_outputs(outputs, rows)
    result = runner.invoke(
        app, ["gate", str(suite), "--outputs", str(outputs), "--no-record"], env=env
    )
    assert result.exit_code == 0, result.output


def test_callable_runner(tmp_path):
    suite = suite_file(tmp_path, "plain", "boom")
    result = runner.invoke(
        app,
        ["gate", str(suite), "--callable", "tests.gate.custom_checks:answer", "--no-record",
         "--save-outputs", str(tmp_path / "o.jsonl")],
        env={"EVALKIT_DATA_DIR": str(tmp_path / "d")},
    )  # fmt: skip
    assert result.exit_code == 1
    assert "boom: no output: raised RuntimeError: model crashed" in result.output
    assert load_outputs(tmp_path / "o.jsonl").rows[0].output == "Within 30 days: plain"
    bad = runner.invoke(app, ["gate", str(suite), "--callable", "nope"], env={})
    assert bad.exit_code == 2 and "--callable expects module:function" in bad.output
