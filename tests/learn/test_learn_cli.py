"""evalkit labels import → train → classifiers list → score, through the real command."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.learn.embed import STATIC_MODEL_NAME
from evalkit.settings import Settings
from evalkit.store import queue_breakdowns
from evalkit.store.database import Database
from tests.learn import support

runner = CliRunner()


def _interchange(path, n=260):
    responses, truth = support.demo_rows()
    with path.open("w") as handle:
        for r in responses[:n]:
            labels = {
                "hallucination": bool(truth[r["id"]]["hallucination"]),
                "tone": truth[r["id"]]["tone"],
            }
            handle.write(json.dumps({**r, "labels": labels}) + "\n")
    return path


@pytest.mark.slow
def test_import_train_list_and_score(tmp_path, static_model):
    data = tmp_path / "data"
    (data / "cache").mkdir(parents=True)
    # The data dir's cache already holds the distilled model, so nothing is distilled here.
    (data / "cache" / STATIC_MODEL_NAME).symlink_to(static_model)
    env = {"EVALKIT_DATA_DIR": str(data)}
    labelled = _interchange(tmp_path / "labelled.jsonl")

    def run(*args):
        result = runner.invoke(app, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    run("labels", "import", str(labelled), "--source", "demo truth")
    out = run(
        "train",
        "--out",
        str(tmp_path / "cls"),
        "--head",
        "hallucination",
        "--head",
        "harm",
        "--head",
        "impolite",
        "--suspects",
        "5",
    )
    assert "Classifier rc-" in out and "(active)" in out
    assert "hallucination: 260 labels" in out
    assert "harm: skipped (no labels)" in out  # nothing in this file labels harm
    assert "Suspect labels:" in out
    listing = run("classifiers", "list")
    assert listing.startswith("* rc-")
    scored = tmp_path / "scores.jsonl"
    run("score", str(labelled), "--out", str(scored))
    lines = [json.loads(line) for line in scored.read_text().splitlines()]
    assert len(lines) == 260
    assert set(lines[0]) == {"id", "scores", "action"}
    assert set(lines[0]["scores"]) == {"hallucination", "impolite"}
    assert {line["action"] for line in lines} <= {"allow", "review", "block"}
    bad = runner.invoke(app, ["train", "--head", "tone"], env=env)
    assert bad.exit_code == 2 and "unknown head" in bad.output
    # The active classifier now serves the policy's targeted rules: what it flags is queued
    # with high priority and an SLA; the borderline ones for active learning.
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "queue: triage\n"
        "rules:\n"
        "  risky: {strategy: risk, head: hallucination}\n"
        "  borderline: {strategy: uncertainty, head: hallucination, band: 0.2}\n"
    )
    runs = json.loads(run("sample", "--policy", str(policy), "--json"))
    first = runs[0]
    assert (first["rule"], first["considered"], first["skipped"]) == ("risky", 260, None)
    assert runs[0]["added"] > 0 and runs[1]["added"] > 0
    db = Database.open(Settings(data_dir=data).resolved_database_url)
    depth = queue_breakdowns.depth(db, queue="triage", viewer=None, now=datetime.now(UTC))
    db.dispose()
    assert {(p, s, stratum) for p, s, stratum, _n, _o in depth} == {
        (100, "risk", "risky"),
        (0, "uncertainty", "borderline"),
    }
    assert sum(n for *_, n, _o in depth) == runs[0]["added"] + runs[1]["added"]
    again = json.loads(run("sample", "--policy", str(policy), "--json"))
    assert [r["added"] for r in again] == [0, 0]
