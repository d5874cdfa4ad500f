"""The documented CI workflow parses and only uses options `evalkit gate` has."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main
import yaml

from evalkit.cli import app

WORKFLOW = Path(__file__).resolve().parents[2] / "docs" / "ci" / "github-actions-gate.yml"


def test_workflow_is_valid_yaml_and_uses_real_options():
    flow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    steps = flow["jobs"]["gate"]["steps"]
    scripts = " ".join(s.get("run", "") for s in steps).replace("\\\n", " ")
    group = typer.main.get_command(app).commands["gate"]
    known = {o for p in group.commands["run"].params for o in (*p.opts, *p.secondary_opts)}
    calls = re.findall(r"evalkit gate (golden_sets/.*?)(?:\|\| true|\n|$)", scripts)
    assert len(calls) == 2
    used = {flag for call in calls for flag in re.findall(r"(--[a-z-]+)", call)}
    assert used - known == set()
    assert {"--junit", "--json", "--markdown", "--endpoint"} <= used
    assert "(--baseline baseline/candidate.jsonl)" in scripts  # passed through a bash array
