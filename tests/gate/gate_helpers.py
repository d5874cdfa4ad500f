"""Builders for gate tests: suites and outputs written to temporary files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "golden_sets"
EXAMPLE_SUITES = [
    GOLDEN / name
    for name in ("support-answers.yaml", "refusals.yaml", "json-extraction.yaml", "summaries.yaml")
]
GOOD = GOLDEN / "outputs" / "candidate-good.jsonl"
REGRESSED = GOLDEN / "outputs" / "candidate-regressed.jsonl"


def write_suite(path: Path, cases: list[dict[str, Any]], **header: Any) -> Path:
    data = {"name": header.pop("name", path.stem), **header, "cases": cases}
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def write_outputs(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def case(case_id: str, *asserts: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"id": case_id, "prompt": f"question {case_id}?", "assert": list(asserts), **fields}
