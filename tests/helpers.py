"""Small builders for test input files."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any


def record(i: int, **overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": f"r-{i}",
        "created_at": f"2026-11-0{1 + i % 9}T10:00:00Z",
        "model_id": ["gpt-big", "gpt-small"][i % 2],
        "intent": "refund_policy",
        "tenant": "acme",
        "prompt": f"Question number {i} about refunds?",
        "response": f"Answer number {i}: refunds take thirty days.",
        "latency_ms": 100.0 + i,
        "input_tokens": 10 + i,
        "output_tokens": 20,
        "cost": 0.001,
        "confidence": 0.9,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def write_jsonl(path: Path, rows: list[Any]) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write((row if isinstance(row, str) else json.dumps(row)) + "\n")
    return path


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """SIGTERM (a server's graceful stop), then SIGKILL if it has not ended in ``timeout`` s."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
