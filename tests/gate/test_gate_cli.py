"""``evalkit gate`` end to end on the example suites: verdicts, exit codes, reports, the store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.store.database import Database
from evalkit.store.gate_runs import gate_runs
from tests.gate.gate_helpers import (
    EXAMPLE_SUITES,
    GOOD,
    REGRESSED,
    case,
    write_outputs,
    write_suite,
)

runner = CliRunner()
SCHEMA = etree.XMLSchema(etree.parse(str(Path(__file__).with_name("junit-10.xsd"))))
#: The deterministic example suites (summaries loads the embedding model: tested as slow).
FAST_SUITES = [str(p) for p in EXAMPLE_SUITES if p.stem != "summaries"]


def gate(env: dict[str, str], *args: str):
    return runner.invoke(app, ["gate", *args], env=env, catch_exceptions=False)


@pytest.fixture
def env(tmp_path, store_url):
    return {"EVALKIT_DATA_DIR": str(tmp_path / "data"), "EVALKIT_DATABASE_URL": store_url}


@pytest.fixture
def sqlite_env(tmp_path):
    return {"EVALKIT_DATA_DIR": str(tmp_path / "data")}


def test_good_candidate_passes_and_is_recorded(env, store_url, tmp_path):
    result = gate(env, *FAST_SUITES, "--outputs", str(GOOD), "--json", str(tmp_path / "r.json"))
    assert result.exit_code == 0, result.output
    assert "Gate passed (3/3 suites passed)" in result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] is True
    assert [s["suite"] for s in report["suites"]] == [
        "support-answers",
        "refusals",
        "json-extraction",
    ]
    support = report["suites"][0]
    assert support["overall"] == {"pass_rate": 0.95, "passed": 19, "judged": 20, "skipped": 0}
    # Every case and every assertion, with its reason.
    canada = next(c for c in support["cases"] if c["id"] == "shipping-canada")
    assert canada["status"] == "fail"
    failing = [a for a in canada["runs"][0]["assertions"] if a["status"] == "fail"]
    assert failing == [
        {
            "type": "icontains",
            "value": "customs",
            "threshold": None,
            "status": "fail",
            "reason": "does not contain 'customs' (any case)",
            "score": None,
        }
    ]
    db = Database.open(store_url)
    runs = gate_runs(db)
    db.dispose()
    assert sorted(r.suite for r in runs) == ["json-extraction", "refusals", "support-answers"]
    assert all(r.passed and r.candidate == "candidate-good" and r.baseline is None for r in runs)
    support_run = next(r for r in runs if r.suite == "support-answers")
    assert support_run.summary["by_tag"]["refund"]["pass_rate"] == 1.0


def test_regressed_candidate_fails_with_every_report(env, store_url, tmp_path):
    junit, md, js = tmp_path / "junit.xml", tmp_path / "gate.md", tmp_path / "gate.json"
    result = gate(
        env,
        *FAST_SUITES,
        "--outputs", str(REGRESSED),
        "--baseline", str(GOOD),
        "--junit", str(junit),
        "--markdown", str(md),
        "--json", str(js),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "Gate failed (0/3 suites passed)" in result.output
    support = json.loads(js.read_text())["suites"][0]
    assert support["comparison"]["regressed"] == [
        "refund-window",
        "refund-timing",
        "refund-shipping",
        "refund-late",
        "order-status",
        "account-reset",
        "tone-late-again",
        "product-warranty",
    ]
    assert support["comparison"]["fixed"] == ["shipping-canada"]
    assert support["comparison"]["p_value"] == pytest.approx(20 / 512)  # b=8, c=1
    rules = {r["name"]: r["passed"] for r in support["rules"]}
    assert rules == {
        "pass rate ≥ 90%": False,
        "tag refund ≥ 98%": False,
        "every critical case passes": False,
        "no significant regression vs candidate-good": False,
    }
    text = md.read_text()
    assert text.startswith("## ❌ evalkit gate failed: `support-answers`, `refusals`")
    assert "**Regressed** (8: passed in `candidate-good`, fail now)" in text
    assert "- `refund-window` **critical**: contains: does not contain '30 days'" in text
    assert "**Fixed** (1: failed in `candidate-good`, pass now)" in text
    assert "| refund | 50.0% (4/8) | 98% | 100.0% (8/8) |" in text

    doc = etree.parse(str(junit))
    SCHEMA.assertValid(doc)
    suites = doc.getroot().findall("testsuite")
    assert [s.get("name") for s in suites] == ["support-answers", "refusals", "json-extraction"]
    window = suites[0].find("testcase[@name='refund-window']")
    assert window.get("classname") == "support-answers"
    assert "does not contain '30 days'" in window.find("failure").text
    assert suites[0].find("testcase[@name='refund-start']").find("failure") is None
    rule = suites[0].find("testcase[@name='no significant regression vs candidate-good']")
    assert "exact McNemar p = 0.0391" in rule.find("failure").get("message")
    assert suites[0].get("tests") == str(20 + 4) and suites[0].get("failures") == str(8 + 4)

    db = Database.open(store_url)
    runs = {r.suite: r for r in gate_runs(db)}
    db.dispose()
    assert not runs["support-answers"].passed
    assert runs["support-answers"].baseline == "candidate-good"
    assert runs["support-answers"].summary["comparison"]["regressed"][0] == "refund-window"


def test_not_significant_drop_does_not_fail_alone(sqlite_env, tmp_path):
    """Two flips among 40 cases: a drop over max_drop, but McNemar p = 0.5."""
    cases = [case(f"c{i}", {"type": "contains", "value": "ok"}) for i in range(40)]
    suite = write_suite(tmp_path / "s.yaml", cases, thresholds={"max_drop": 0.0, "pass_rate": 0.9})
    base = write_outputs(
        tmp_path / "base.jsonl", [{"id": f"c{i}", "output": "ok"} for i in range(40)]
    )
    cand = write_outputs(
        tmp_path / "cand.jsonl",
        [{"id": f"c{i}", "output": "no" if i < 2 else "ok"} for i in range(40)],
    )
    result = gate(sqlite_env, str(suite), "--outputs", str(cand), "--baseline", str(base))
    assert result.exit_code == 0, result.output
    assert "not significant at α = 0.05" in result.output
    # A looser significance level from the command line makes the same flips decisive.
    loose = gate(
        sqlite_env, str(suite), "--outputs", str(cand), "--baseline", str(base), "--alpha", "0.6"
    )
    assert loose.exit_code == 1 and "exact McNemar p = 0.5" in loose.output
    # The pass-rate floor still applies, from the command line too.
    result = gate(sqlite_env, str(suite), "--outputs", str(cand), "--pass-rate", "0.99")
    assert result.exit_code == 1


def test_tag_floors_from_the_command_line_replace_the_suites(sqlite_env, tmp_path):
    """`--tag TAG=RATE` sets a floor for one tag; the suite's other floors stay."""
    ok = {"type": "contains", "value": "ok"}
    cases = [case(f"r{i}", ok, tags=["refund"]) for i in range(4)]
    cases += [case(f"s{i}", ok, tags=["shipping"]) for i in range(4)]
    suite = write_suite(
        tmp_path / "s.yaml", cases, thresholds={"pass_rate": 0.5, "tags": {"shipping": 0.5}}
    )
    outputs = write_outputs(
        tmp_path / "o.jsonl",
        [{"id": c["id"], "output": "no" if c["id"] in ("r0", "s0") else "ok"} for c in cases],
    )
    assert gate(sqlite_env, str(suite), "--outputs", str(outputs)).exit_code == 0
    strict = gate(sqlite_env, str(suite), "--outputs", str(outputs), "--tag", "refund=1")
    assert strict.exit_code == 1, strict.output
    assert "tag refund ≥ 100%" in strict.output and "tag shipping ≥ 50%" in strict.output
    # Replacing the suite's floor for a tag loosens it as well as tightening it.
    loose = gate(
        sqlite_env,
        str(suite),
        "--outputs",
        str(outputs),
        "--tag",
        "refund=0.75",
        "--tag",
        "shipping=0.7",
    )
    assert loose.exit_code == 0, loose.output
    for bad in ("refund", "refund=1.5", "=0.5", "refund=high"):
        result = gate(sqlite_env, str(suite), "--outputs", str(outputs), "--tag", bad)
        assert result.exit_code == 2 and "TAG=RATE" in result.output, (bad, result.output)


def test_junit_of_a_passing_run_is_valid_too(sqlite_env, tmp_path):
    junit = tmp_path / "j.xml"
    result = gate(sqlite_env, FAST_SUITES[0], "--outputs", str(GOOD), "--junit", str(junit))
    assert result.exit_code == 0
    doc = etree.parse(str(junit))
    SCHEMA.assertValid(doc)
    root = doc.getroot()
    assert (root.get("tests"), root.get("failures")) == ("23", "1")


def test_missing_outputs_fail_the_case_with_the_reason(sqlite_env, tmp_path):
    suite = write_suite(
        tmp_path / "s.yaml",
        [
            case("a", {"type": "contains", "value": "x"}),
            case("b", {"type": "contains", "value": "x"}),
        ],
    )
    outputs = write_outputs(
        tmp_path / "o.jsonl", [{"id": "a", "output": "x"}, {"id": "zzz", "output": "x"}]
    )
    result = gate(sqlite_env, str(suite), "--outputs", str(outputs), "--no-record")
    assert result.exit_code == 1
    assert "b: no output for this case in" in result.output
    assert "1 output id(s) in" in result.output and "match no case: zzz" in result.output


def test_usage_errors_exit_2(sqlite_env, tmp_path):
    suite = FAST_SUITES[0]
    assert gate(sqlite_env, suite).exit_code == 2  # no source of outputs
    assert gate(sqlite_env, suite, "--outputs", str(GOOD), "--endpoint", "http://x").exit_code == 2
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "output": "x"}\n{"id": "b", "latency_ms": 3}\nnot json\n')
    result = gate(sqlite_env, suite, "--outputs", str(bad))
    assert result.exit_code == 2
    assert f"{bad}:line 2: (id b) field 'output': required" in result.output
    assert f"{bad}:line 3: not valid JSON" in result.output


def test_outputs_for_other_suites_are_not_stray(sqlite_env):
    result = gate(sqlite_env, FAST_SUITES[1], "--outputs", str(GOOD), "--no-record")
    assert result.exit_code == 0, result.output
    assert "match no case" not in result.output


def test_junit_tells_crashed_checks_from_failures_and_skips(sqlite_env, tmp_path):
    suite = write_suite(
        tmp_path / "s.yaml",
        [
            case("crash", {"type": "tests.gate.custom_checks.crashes"}),
            case("fails", {"type": "contains", "value": "x"}),
            case("unjudged", {"type": "risk", "value": "harm"}),
            case("passes", {"type": "contains", "value": "o"}),
        ],
    )
    rows = [{"id": i, "output": "ok"} for i in ("crash", "fails", "unjudged", "passes")]
    outputs = write_outputs(tmp_path / "o.jsonl", rows)
    junit = tmp_path / "j.xml"
    result = gate(
        sqlite_env, str(suite), "--outputs", str(outputs), "--junit", str(junit), "--no-record"
    )
    assert result.exit_code == 1
    doc = etree.parse(str(junit))
    SCHEMA.assertValid(doc)
    (el,) = doc.getroot().findall("testsuite")
    assert (el.get("tests"), el.get("failures"), el.get("errors"), el.get("skipped")) == (
        "6",  # four cases and two rules (pass rate, critical)
        "2",  # 'fails' and the pass-rate rule
        "1",
        "1",
    )
    assert "ZeroDivisionError" in el.find("testcase[@name='crash']/error").text
    assert el.find("testcase[@name='unjudged']/skipped").get("message").startswith("risk: skipped:")
