"""The watch commands on the demo store: exit codes and what they print."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from evalkit.cli import app

RULES = Path(__file__).resolve().parents[2] / "evalkit" / "demo" / "watch_rules.yaml"


def _invoke(settings, *args: str):
    base = ["--database-url", settings.resolved_database_url, "--data-dir", str(settings.data_dir)]
    return CliRunner().invoke(app, [*base, *args])


def test_watch_exits_1_on_red_and_lists_it(demo, tmp_path):
    _, settings, _ = demo
    spec = yaml.safe_load(RULES.read_text())  # without embeddings: MiniLM is the slow test's
    spec["rules"] = [r for r in spec["rules"] if r["metric"] != "embedding_drift"]
    rules = tmp_path / "rules.yaml"
    rules.write_text(yaml.safe_dump(spec))
    result = _invoke(settings, "watch", "--rules", str(rules), "--no-notify")
    assert result.exit_code == 1, result.output
    assert "red," in result.output.splitlines()[-1]
    as_json = _invoke(settings, "watch", "--rules", str(rules), "--no-notify", "--json")
    red = {
        (s["rule"], s["cell"]) for s in json.loads(as_json.output)["states"] if s["state"] == "red"
    }
    assert ("hallucination-by-version", "swift-mini-0.9.5") in red
    calm = tmp_path / "calm.yaml"
    calm.write_text(
        yaml.safe_dump({"rules": [r for r in spec["rules"] if r["name"] == "latency-p95"]})
    )
    assert _invoke(settings, "watch", "--rules", str(calm), "--no-notify").exit_code == 0
    bad = _invoke(settings, "watch", "--rules", str(tmp_path / "none.yaml"))
    assert bad.exit_code == 2 and "does not exist" in bad.output


def test_compare_before_rolling_out(demo):
    _, settings, _ = demo
    result = _invoke(settings, "watch", "compare", "swift-mini-0.9.4", "swift-mini-0.9.5")
    assert result.exit_code == 0, result.output
    line = next(li for li in result.output.splitlines() if "hallucination" in li)
    assert "worse" in line
    wrong = _invoke(settings, "watch", "compare", "a", "b", "--by", "colour")
    assert wrong.exit_code == 2
