"""The evalkit command: exit codes, messages, and the demo as a user runs it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.capture.mapping import parse_mapping
from evalkit.cli import app
from evalkit.cli.render import count
from evalkit.cli.store_admin import parse_age
from evalkit.errors import UsageError
from tests.helpers import record, write_jsonl

runner = CliRunner()


@pytest.fixture
def env(tmp_path, store_url):
    return {"EVALKIT_DATA_DIR": str(tmp_path / "data"), "EVALKIT_DATABASE_URL": store_url}


@pytest.fixture
def no_store_env(tmp_path):
    """For commands that stop before opening a store: run once, not once per store."""
    return {"EVALKIT_DATA_DIR": str(tmp_path / "data")}


def run(env, *args):
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


def test_ingest_exit_codes(env, tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [record(i) for i in range(3)])
    result = run(env, "ingest", str(good))
    assert result.exit_code == 0, result.output
    assert "stored 3" in result.output

    bad = write_jsonl(tmp_path / "bad.jsonl", [record(5), '{"id": "b"}'])
    result = run(env, "ingest", str(bad))
    assert result.exit_code == 1
    assert f"{bad}:line 2 (id b) field 'response': required field is missing" in result.output

    assert run(env, "ingest", str(tmp_path / "missing.jsonl")).exit_code == 2
    assert run(env, "ingest", "--map", "nonsense", str(good)).exit_code == 2
    assert run(env, "ingest", "--format", "xml", str(good)).exit_code == 2
    assert run(env, "ingest", "--kind", "labels", str(good)).exit_code == 2


def test_errors_file_lists_every_rejection(env, tmp_path):
    rows = [f'{{"id": "b{i}"}}' for i in range(30)]
    errors = tmp_path / "errors.jsonl"
    result = run(
        env,
        "ingest",
        "--errors-file",
        str(errors),
        "--show-errors",
        "2",
        str(write_jsonl(tmp_path / "bad.jsonl", rows)),
    )
    assert result.exit_code == 1 and "and 28 more" in result.output
    lines = [json.loads(line) for line in errors.read_text().splitlines()]
    assert len(lines) == 30 and lines[0]["field"] == "response" and lines[0]["location"] == "line 1"


def test_strict_flag(env, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(1), '{"id": "b"}'])
    result = run(env, "ingest", "--strict", str(path))
    assert result.exit_code == 1 and "nothing was stored" in result.output
    summary = json.loads(run(env, "summary", "--json").output)
    assert summary["responses"] == 0


def test_feedback_and_labels_commands(env, tmp_path):
    run(env, "ingest", str(write_jsonl(tmp_path / "r.jsonl", [record(1)])))
    fb = write_jsonl(
        tmp_path / "f.jsonl",
        [
            {"response_id": "r-1", "kind": "rating", "value": "up"},
            {"response_id": "zzz", "kind": "rating", "value": "up"},
        ],
    )
    result = run(env, "ingest", "--kind", "feedback", str(fb))
    assert result.exit_code == 1 and "no stored response has id 'zzz'" in result.output
    labelled = write_jsonl(
        tmp_path / "l.jsonl", [{"id": "x", "response": "r", "labels": {"harm": True}}]
    )
    result = run(env, "labels", "import", str(labelled), "--source", "vendor")
    assert result.exit_code == 0 and "labels stored 1" in result.output
    summary = json.loads(run(env, "summary", "--json").output)
    assert summary["labels"] == {"harm": {"true": 1}} and summary["feedback"] == {"rating": 1}


def test_purge_deletes_old_responses_with_their_feedback(env, tmp_path):
    rows = [
        record(1, created_at="2020-01-01T00:00:00Z"),
        record(2, created_at="2099-01-01T00:00:00Z"),
    ]
    run(env, "ingest", str(write_jsonl(tmp_path / "r.jsonl", rows)))
    run(
        env,
        "ingest",
        "--kind",
        "feedback",
        str(
            write_jsonl(
                tmp_path / "f.jsonl", [{"response_id": "r-1", "kind": "rating", "value": "up"}]
            )
        ),
    )
    dry = run(env, "purge", "--older-than", "90d", "--dry-run")
    assert "Would delete 1 response created before" in dry.output
    assert "(1 feedback event, 0 labels, 0 review items)" in dry.output
    assert json.loads(run(env, "summary", "--json").output)["responses"] == 2
    result = run(env, "purge", "--older-than", "90d")
    assert result.exit_code == 0 and "Deleted 1 response created" in result.output
    summary = json.loads(run(env, "summary", "--json").output)
    assert summary["responses"] == 1 and summary["feedback"] == {}
    assert run(env, "purge").exit_code == 2  # no age given, none configured


def test_parse_age():
    assert parse_age("90d").days == 90 and parse_age("2w").days == 14
    assert parse_age("12h").total_seconds() == 12 * 3600
    assert parse_age("30min") == parse_age("30 minutes") == timedelta(minutes=30)
    assert parse_age("90days") == parse_age("90 D") == timedelta(days=90)
    assert parse_age("12hours") == timedelta(hours=12) and parse_age("2weeks") == timedelta(weeks=2)
    for bad in ("90", "d", "-1d", "0d", "3s", "99999999999d"):
        with pytest.raises(UsageError):
            parse_age(bad)


@pytest.mark.parametrize("text", ["3m", "3M", "3 m"])
def test_parse_age_refuses_a_bare_m_as_ambiguous(text):
    with pytest.raises(UsageError, match=r"ambiguous.*minutes or months.*90d.*3min"):
        parse_age(text)


@pytest.mark.parametrize("text", ["3mo", "3months", "1month", "1y", "2years", "1yr"])
def test_parse_age_refuses_months_and_years(text):
    with pytest.raises(UsageError, match=r"months and years are not supported.*give days"):
        parse_age(text)


def test_purge_3m_deletes_nothing_and_says_why(env, tmp_path):
    recent = datetime.now(UTC) - timedelta(hours=1)
    rows = [record(1, created_at=recent.isoformat())]
    run(env, "ingest", str(write_jsonl(tmp_path / "r.jsonl", rows)))
    result = run(env, "purge", "--older-than", "3m")
    assert result.exit_code == 2
    assert "'m' could be minutes or months; give days, e.g. 90d" in result.output
    assert json.loads(run(env, "summary", "--json").output)["responses"] == 1


def test_purge_help_lists_the_units(no_store_env):
    result = run(no_store_env, "purge", "--help")
    help_text = " ".join(result.output.replace("│", " ").split())
    assert "min, h, d, w (or minutes, hours, days, weeks)" in help_text
    assert "A bare 'm' (minutes or months?), months and years are refused" in help_text


def test_unreachable_store_exits_3(tmp_path):
    env = {"EVALKIT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    result = run(env, "summary")
    assert result.exit_code == 3 and "cannot open the store" in result.output


def test_demo_runs_end_to_end_and_is_idempotent(env, tmp_path):
    result = run(env, "demo", "--n", "300", "--until", "capture", "--quiet")
    assert result.exit_code == 0, result.output
    assert "stored 300" in result.output and "PII redacted" in result.output
    summary = json.loads(run(env, "summary", "--json").output)
    assert summary["responses"] == 300 and len(summary["models"]) >= 3
    again = run(env, "demo", "--n", "300", "--until", "capture", "--quiet")
    assert again.exit_code == 0 and "stored 0, duplicates 300" in again.output

    # The summary a user reads: whole column names, outcomes known (mostly from late events),
    # and listings wrapped between items, never inside "medical_question 116".
    text = run(env, "summary").output
    assert "outcome" in text and "known" in text and "resolved" in text and "…" not in text
    lines = text.splitlines()
    assert all(len(line) <= 120 for line in lines)
    assert not any(re.match(r"\s*[0-9,]+$", line) for line in lines), text
    assert datetime.fromisoformat(summary["first_at"]).tzinfo is not None
    assert "T" in summary["first_at"]


def test_demo_with_another_seed_or_size_adds_its_own_traffic(env, tmp_path):
    """Another seed (or size) is other traffic: it must be stored beside the first run, not be
    refused as 300 conflicts, and each run keeps its own ground truth."""
    assert run(env, "demo", "--n", "300", "--until", "capture", "--quiet").exit_code == 0
    other = run(env, "demo", "--n", "300", "--seed", "8", "--until", "capture", "--quiet")
    assert other.exit_code == 0, other.output
    assert "stored 300" in other.output and "conflict" not in other.output
    bigger = run(env, "demo", "--n", "400", "--until", "capture", "--quiet")
    assert bigger.exit_code == 0 and "stored 400" in bigger.output, bigger.output
    assert json.loads(run(env, "summary", "--json").output)["responses"] == 1000
    data_dir = Path(env["EVALKIT_DATA_DIR"]) / "demo"
    truths = {
        p.parent.name: [json.loads(line)["id"] for line in p.read_text().splitlines()]
        for p in data_dir.glob("*/truth.jsonl")
    }
    assert {name: len(ids) for name, ids in truths.items()} == {
        "s7-n300": 300,
        "s8-n300": 300,
        "s7-n400": 400,
    }
    assert truths["s8-n300"][0] == "demo-s8-n300-000001"


@pytest.mark.slow
def test_console_script_help_is_fast_and_lists_commands(tmp_path):
    exe = Path(sys.executable).with_name("evalkit")
    out = subprocess.run(
        [str(exe), "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "EVALKIT_DATA_DIR": str(tmp_path)},
    )
    for command in ("ingest", "demo", "labels", "summary", "purge", "db", "serve"):
        assert command in out.stdout
    probe = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import evalkit.cli"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in probe.stderr.splitlines()}
    heavy = sorted(
        imported & {"torch", "sentence_transformers", "streamlit", "sklearn", "deepeval"}
    )
    assert heavy == [], f"`evalkit --help` imports {heavy}"


def test_map_refuses_a_field_evalkit_does_not_have(env, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"prompt": "hi", "response": "yo"}])
    result = run(env, "ingest", "--map", "nosuchfield=prompt", str(path))
    assert result.exit_code == 2
    assert "'nosuchfield' is not a field of a response; fields: confidence, context," in (
        result.output
    )
    result = run(env, "ingest", "--map", "Prompt=question", str(path))
    assert result.exit_code == 2 and "(did you mean 'prompt'?)" in result.output
    result = run(env, "ingest", "--kind", "feedback", "--map", "model_id=m", str(path))
    assert result.exit_code == 2 and "not a field of a feedback event" in result.output
    assert json.loads(run(env, "summary", "--json").output)["responses"] == 0


def test_map_refuses_a_field_given_twice(env, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"a": "hi", "b": "yo"}])
    result = run(env, "ingest", "--map", "response=a", "--map", "response=b", str(path))
    assert result.exit_code == 2
    assert "--map names 'response' twice (response=a and response=b)" in result.output


def test_parse_mapping_knows_the_fields_of_each_kind():
    assert parse_mapping(["response=out", "model_id=meta.model"], kind="responses") == {
        "response": "out",
        "model_id": "meta.model",
    }
    assert parse_mapping(["response_id=rid"], kind="feedback") == {"response_id": "rid"}
    assert parse_mapping(["labels=annotations"], kind="labelled") == {"labels": "annotations"}
    with pytest.raises(UsageError, match="'labels' is not a field of a response"):
        parse_mapping(["labels=annotations"], kind="responses")
    with pytest.raises(UsageError, match="'response' is not a field of a feedback event"):
        parse_mapping(["response=x"], kind="feedback")


def test_mapped_field_error_quotes_only_the_field_name(env, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [{"prompt": "hi"}])
    errors = tmp_path / "errors.jsonl"
    result = run(
        env, "ingest", "--map", "response=nonexistent_col", "--errors-file", str(errors), str(path)
    )
    assert result.exit_code == 1
    assert (
        f"{path}:line 1 field 'response' (column 'nonexistent_col'): required field is missing"
        in result.output
    )
    # The field itself is unchanged for machines.
    assert json.loads(errors.read_text())["field"] == "response (column 'nonexistent_col')"


def test_counts_of_one_are_singular(env, tmp_path):
    run(env, "ingest", str(write_jsonl(tmp_path / "r.jsonl", [record(1)])))
    assert ": 1 response from " in run(env, "summary").output
    assert count(1, "feedback event") == "1 feedback event"
    assert count(0, "label") == "0 labels" and count(2_000, "label") == "2,000 labels"


def test_invalid_setting_is_one_clean_line_per_problem(no_store_env):
    result = run({**no_store_env, "EVALKIT_BATCH_SIZE": "0"}, "summary")
    assert result.exit_code == 2
    assert result.output == "error: EVALKIT_BATCH_SIZE: must be at least 1 (got '0')\n"

    bad = {**no_store_env, "EVALKIT_MAX_RECORD_BYTES": "5", "EVALKIT_REDACT_ENABLED": "maybe"}
    result = run(bad, "summary")
    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "error: EVALKIT_MAX_RECORD_BYTES: must be at least 1024 (got '5')",
        "error: EVALKIT_REDACT_ENABLED: must be true or false (also 1/0, yes/no, on/off) "
        "(got 'maybe')",
    ]


def test_serve_reports_an_invalid_setting_the_same_way(no_store_env):
    result = run({**no_store_env, "EVALKIT_INGEST_WORKERS": "99"}, "serve", "--no-auth")
    assert result.exit_code == 2
    assert result.output == "error: EVALKIT_INGEST_WORKERS: must be at most 64 (got '99')\n"


def test_redact_kinds_setting_error_shows_the_value_as_given(no_store_env):
    result = run({**no_store_env, "EVALKIT_REDACT_KINDS": '["email","nope"]'}, "summary")
    assert result.exit_code == 2
    assert result.output == (
        "error: EVALKIT_REDACT_KINDS: unknown PII kind(s) 'nope'; "
        'known: email, phone, card, ip, secret (got \'["email","nope"]\')\n'
    )


def test_demo_refuses_an_unknown_stage(no_store_env):
    result = run(no_store_env, "demo", "--until", "deploy")
    assert result.exit_code == 2
    assert "unknown stage 'deploy'" in result.output and "capture, review" in result.output
