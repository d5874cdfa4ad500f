"""Every setting and every command is documented in the README (datasette's rule)."""

from __future__ import annotations

import re
from pathlib import Path

import annotated_types
import typer.main

from evalkit.cli import app
from evalkit.settings import Settings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme():
    missing = [
        f"EVALKIT_{name.upper()}"
        for name in Settings.model_fields
        if f"`EVALKIT_{name.upper()}`" not in README
    ]
    assert missing == []


def test_every_setting_bound_is_in_the_readme():
    """A value out of bounds is refused at start-up, so the table must say what the bounds are."""
    undocumented = []
    for name, field in Settings.model_fields.items():
        low = next((m.ge for m in field.metadata if isinstance(m, annotated_types.Ge)), None)
        high = next((m.le for m in field.metadata if isinstance(m, annotated_types.Le)), None)
        row = next(
            line for line in README.splitlines() if line.startswith(f"| `EVALKIT_{name.upper()}`")
        )
        meaning = row.split(" | ", 2)[2]
        if low is not None and high is not None:
            wanted = [f"{low} to {high}"]
        else:
            wanted = [f"at least {low}"] if low is not None else []
            wanted += [f"at most {high}"] if high is not None else []
        undocumented += [f"EVALKIT_{name.upper()}: {w}" for w in wanted if w not in meaning]
    assert undocumented == []


def _commands(group: typer.main.TyperGroup, prefix: str = "evalkit") -> list[str]:
    found = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            found.extend(_commands(command, f"{prefix} {name}"))
        else:
            found.append(f"{prefix} {name}")
    return found


def test_every_command_is_in_the_readme():
    group = typer.main.get_command(app)
    missing = [c for c in _commands(group) if f"`{c}" not in README]
    assert missing == []


def test_quickstart_is_two_command_lines_and_ci_runs_the_second():
    section = README.split("## Quickstart", 1)[1]
    block = re.search(r"```[a-z]*\n(.*?)```", section, re.S)
    assert block is not None
    lines = [line for line in block.group(1).splitlines() if line.strip()]
    assert len(lines) == 2
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert lines[1] in [line.strip() for line in ci.splitlines()]
