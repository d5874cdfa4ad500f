"""Settings from the environment, and the errors a user sees when one is wrong."""

from __future__ import annotations

import pytest

from evalkit.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    "value", ["email,ip", " email , ip ", '["email","ip"]', '[" email", "ip"]', "email,ip,email"]
)
def test_redact_kinds_as_a_comma_list_or_a_json_list(monkeypatch, value):
    monkeypatch.setenv("EVALKIT_REDACT_KINDS", value)
    assert load_settings().redact_kinds == ("email", "ip")


@pytest.mark.parametrize("value", ["[email", "[1, 2]", '["email", null]'])
def test_redact_kinds_that_are_neither(monkeypatch, value):
    monkeypatch.setenv("EVALKIT_REDACT_KINDS", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    (problem,) = caught.value.problems
    assert problem.startswith("EVALKIT_REDACT_KINDS: expected kinds separated by commas")


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("BATCH_SIZE", "0", "must be at least 1 (got '0')"),
        ("BATCH_SIZE", "100001", "must be at most 100000 (got '100001')"),
        ("BATCH_SIZE", "abc", "must be a whole number (got 'abc')"),
        ("MAX_RECORD_BYTES", "1023", "must be at least 1024 (got '1023')"),
        ("RETENTION_DAYS", "0", "must be at least 1 (got '0')"),
        ("RETENTION_DAYS", "soon", "must be a whole number (got 'soon')"),
        ("REDACT_KINDS", "email,ssn", "unknown PII kind(s) 'ssn'; known: email, phone, card"),
    ],
)
def test_each_problem_is_one_line_naming_the_variable(monkeypatch, name, value, problem):
    monkeypatch.setenv(f"EVALKIT_{name}", value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    (line,) = caught.value.problems
    assert line.startswith(f"EVALKIT_{name}: {problem}")
    assert "pydantic" not in str(caught.value) and "\n" not in line


def test_every_problem_is_reported_at_once(monkeypatch):
    monkeypatch.setenv("EVALKIT_BATCH_SIZE", "0")
    monkeypatch.setenv("EVALKIT_INGEST_WORKERS", "-1")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "EVALKIT_BATCH_SIZE",
        "EVALKIT_INGEST_WORKERS",
    ]


def test_the_sdk_reports_a_bad_setting_the_same_way(monkeypatch, tmp_path):
    """A service constructing ``Recorder()`` gets the one-line message too, when it builds the
    recorder (at start-up), never later on the request path."""
    from evalkit import Recorder

    monkeypatch.chdir(tmp_path)  # no .env of the project's
    monkeypatch.setenv("EVALKIT_BATCH_SIZE", "0")
    expected = r"^EVALKIT_BATCH_SIZE: must be at least 1 \(got '0'\)$"
    with pytest.raises(SettingsError, match=expected):
        Recorder()
