"""Suite files: what loads, and malformed suites reported with file, case and field."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.gate import SuiteError, load_suite
from tests.gate.gate_helpers import EXAMPLE_SUITES, case, write_suite


def problems(path) -> list[str]:
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return list(info.value.problems)


@pytest.mark.parametrize("path", EXAMPLE_SUITES, ids=lambda p: p.stem)
def test_example_suites_load(path):
    suite = load_suite(path)
    assert suite.cases and suite.owner and suite.description
    assert all(c.asserts for c in suite.cases)


def test_defaults_come_first_and_messages_are_an_input(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        """
name: s
defaults: {assert: [{type: max_chars, value: 100}]}
cases:
  - id: 7
    messages: [{role: user, content: "hi"}, {role: assistant, content: "hello"},
               {role: user, content: "refund?"}]
    assert: [{type: contains, value: "30"}]
""",
        encoding="utf-8",
    )
    suite = load_suite(path)
    (only,) = suite.cases
    assert only.id == "7"
    assert [s.type for s in only.asserts] == ["max_chars", "contains"]
    assert only.input_text == "refund?"
    assert suite.thresholds.pass_rate == 1.0  # no thresholds: every case must pass


def test_cases_file_jsonl(tmp_path):
    rows = [
        {"id": "a", "prompt": "p", "assert": [{"type": "contains", "value": "x"}]},
        {"id": "b", "prompt": "p", "tags": ["t"], "critical": True},
    ]
    (tmp_path / "big.cases.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    suite_path = tmp_path / "big.yaml"
    suite_path.write_text(
        "name: big\ncases_file: big.cases.jsonl\n"
        "defaults: {assert: [{type: not_contains, value: 'As an AI'}]}\n"
    )
    suite = load_suite(suite_path)
    assert [c.id for c in suite.cases] == ["a", "b"]
    assert suite.cases[1].critical and suite.cases[1].tags == ("t",)
    assert [s.type for s in suite.cases[1].asserts] == ["not_contains"]


def test_every_problem_names_file_case_and_field(tmp_path):
    path = write_suite(
        tmp_path / "broken.yaml",
        [
            case("ok", {"type": "contains", "value": "x"}),
            case("typo", {"type": "containz", "value": "x"}),
            case("no-value", {"type": "regex"}),
            {"id": "no-prompt", "assert": [{"type": "contains", "value": "x"}]},
            case("bad-field", {"type": "contains", "value": "x"}, refrence="oops"),
            case("ok", {"type": "contains", "value": "y"}),
            case("bad-threshold", {"type": "semantic_similarity", "threshold": "high"}),
            case("needs-ref", {"type": "semantic_similarity"}),
            {"prompt": "no id"},
            case("bad-critical", {"type": "contains", "value": "x"}, critical="yes"),
        ],
        thresholds={"pass_rate": 1.5, "tags": {"missing": 0.9}},
    )
    where = str(path)
    assert problems(path) == [
        f"{where}: field 'thresholds.pass_rate': expected a number from 0 to 1, got 1.5",
        f"{where}: case 2 (id typo): field 'assert[0].type': unknown assertion 'containz' "
        "(did you mean 'contains'?); known: contains, contains_all, contains_any, deepeval:<Name>"
        ", equals, icontains, json, max_chars, max_latency_ms, no_refusal, not_contains, "
        "refusal, regex, risk, semantic_similarity, starts_with; or a dotted path to your own "
        "function (package.module.function)",
        f"{where}: case 3 (id no-value): field 'assert[0].value': assertion 'regex' "
        "needs a 'value'",
        f"{where}: case 4 (id no-prompt): field 'prompt': give a 'prompt' or chat 'messages' "
        "(one of them)",
        f"{where}: case 5 (id bad-field): field 'refrence': unknown case field; known: assert, "
        "context, critical, description, id, messages, metadata, prompt, reference, tags",
        f"{where}: case 6 (id ok): field 'id': duplicate of {where}: case 1",
        f"{where}: case 7 (id bad-threshold): field 'assert[0].threshold': expected a number, "
        "got 'high'",
        f"{where}: case 8 (id needs-ref): field 'reference': required by assertion "
        "'semantic_similarity'",
        f"{where}: case 9: field 'id': required, a non-empty text",
        f"{where}: case 10 (id bad-critical): field 'critical': expected true or false, got 'yes'",
        f"{where}: field 'thresholds.tags.missing': no case has this tag",
    ]


def test_jsonl_cases_are_named_by_line(tmp_path):
    (tmp_path / "c.jsonl").write_text(
        '{"id": "a", "prompt": "p", "assert": [{"type": "max_chars", "value": "ten"}]}\n{oops\n'
    )
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ncases_file: c.jsonl\n")
    found = problems(path)
    assert found[0].startswith("c.jsonl:line 2: not valid JSON")
    assert found[1] == (
        "c.jsonl:line 1 (id a): field 'assert[0].value': assertion 'max_chars': "
        "expected a number ≥ 0, got 'ten'"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: [unclosed", "not valid YAML"),
        ("- just\n- a list\n", "a suite is a mapping with 'name' and 'cases'"),
        ("name: s\n", "give either 'cases' (inline) or 'cases_file' (JSONL), not both"),
        ("name: s\ncases: []\n", "field 'cases': the suite has no cases"),
        ("name: s\ncases_file: nowhere.jsonl\n", "field 'cases_file': cannot read"),
        (
            "name: s\nplugins: [no_such_plugin_mod]\ncases: []\n",
            "cannot import 'no_such_plugin_mod'",
        ),
    ],
)
def test_unreadable_suites(tmp_path, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    assert any(message in p and p.startswith(str(path)) for p in problems(path)), problems(path)


def test_malformed_suite_exits_2_naming_file_case_and_field(tmp_path):
    path = write_suite(tmp_path / "broken.yaml", [case("refund-window", {"type": "max_chars"})])
    outputs = tmp_path / "o.jsonl"
    outputs.write_text('{"id": "refund-window", "output": "x"}\n')
    result = CliRunner().invoke(
        app,
        ["gate", str(path), "--outputs", str(outputs)],
        env={"EVALKIT_DATA_DIR": str(tmp_path / "d")},
    )
    assert result.exit_code == 2
    assert (
        f"error: {path}: case 1 (id refund-window): field 'assert[0].value': assertion "
        "'max_chars' needs a 'value'" in result.output.replace("\n", "")
    )
    assert (
        "no such suite file"
        in CliRunner()
        .invoke(app, ["gate", str(tmp_path / "none.yaml"), "--outputs", str(outputs)])
        .output
    )
