"""Recorded outputs: what a candidate answered, one JSON object per line.

``{"id": "refund-window", "output": "...", "latency_ms": 412}``. Several lines with the same id
are repeats of the case (``--repeat N``), in file order. A line may carry ``"error"`` instead of
an output (the endpoint timed out) and ``"suite"`` to say which suite's case it answers, so one
file can hold a candidate's outputs for several suites. Every runner writes this format, so any
run can be judged again, and become the next baseline, without calling the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from evalkit.errors import UsageError


@dataclass(frozen=True, slots=True)
class CandidateOutput:
    id: str
    output: str | None
    latency_ms: float | None = None
    error: str | None = None
    suite: str | None = None

    def to_json(self) -> dict[str, Any]:
        row: dict[str, Any] = {"id": self.id, "output": self.output}
        for key in ("latency_ms", "error", "suite"):
            if getattr(self, key) is not None:
                row[key] = getattr(self, key)
        return row


class OutputsError(UsageError):
    """An outputs file that cannot be read; each problem names the file and line."""


@dataclass(frozen=True)
class OutputSet:
    """A candidate's outputs: where they came from, and each case id's runs in order."""

    name: str
    source: str
    rows: tuple[CandidateOutput, ...]

    def for_suite(self, suite: str) -> dict[str, list[CandidateOutput]]:
        """Case id → runs, keeping lines for this suite and lines that name no suite."""
        runs: dict[str, list[CandidateOutput]] = {}
        for row in self.rows:
            if row.suite is None or row.suite == suite:
                runs.setdefault(row.id, []).append(row)
        return runs


def load_outputs(path: str | Path, *, name: str | None = None) -> OutputSet:
    """Read an outputs file; ``name`` (the candidate) defaults to the file name's stem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OutputsError(f"{path}: cannot read the outputs file: {exc.strerror}") from None
    rows: list[CandidateOutput] = []
    problems: list[str] = []
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        at = f"{path}:line {number}"
        try:
            raw = orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            problems.append(f"{at}: not valid JSON: {exc}")
            continue
        try:
            rows.append(_row(raw))
        except ValueError as exc:
            problems.append(f"{at}: {exc}")
        if len(problems) >= 20:
            problems.append(f"{path}: stopped after 20 problems")
            break
    if problems:
        raise OutputsError("\n".join(problems))
    if not rows:
        raise OutputsError(f"{path}: the outputs file is empty")
    return OutputSet(
        name=name or path.name.removesuffix(".jsonl"), source=str(path), rows=tuple(rows)
    )


def _row(raw: Any) -> CandidateOutput:
    if not isinstance(raw, dict):
        raise ValueError('expected an object {"id", "output", "latency_ms"?}')
    case_id = raw.get("id")
    if isinstance(case_id, int) and not isinstance(case_id, bool):
        case_id = str(case_id)
    if not isinstance(case_id, str) or not case_id:
        raise ValueError("field 'id': required, the case id")
    output, error = raw.get("output"), raw.get("error")
    if output is not None and not isinstance(output, str):
        output = orjson.dumps(output).decode()  # a structured output judged as its JSON text
    if output is None and not isinstance(error, str):
        raise ValueError(f"(id {case_id}) field 'output': required (or an 'error' saying why not)")
    latency = raw.get("latency_ms")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, int | float)):
        raise ValueError(f"(id {case_id}) field 'latency_ms': expected a number, got {latency!r}")
    suite = raw.get("suite")
    if suite is not None and not isinstance(suite, str):
        raise ValueError(f"(id {case_id}) field 'suite': expected the suite's name")
    return CandidateOutput(
        id=case_id,
        output=output,
        latency_ms=float(latency) if latency is not None else None,
        error=error if output is None else None,
        suite=suite,
    )


def save_outputs(path: str | Path, rows: Iterable[CandidateOutput]) -> Path:
    """Write outputs in the format ``load_outputs`` reads (atomically: a temp file renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as fh:
        for row in rows:
            fh.write(orjson.dumps(row.to_json()) + b"\n")
    tmp.replace(path)
    return path


def index(rows: Sequence[CandidateOutput]) -> Mapping[str, list[CandidateOutput]]:
    out: dict[str, list[CandidateOutput]] = {}
    for row in rows:
        out.setdefault(row.id, []).append(row)
    return out
