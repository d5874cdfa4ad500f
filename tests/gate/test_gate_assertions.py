"""Each built-in assertion on outputs that pass and outputs that fail, and the registry rules."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evalkit.gate import Case, Check, assertion, registered
from evalkit.gate.registry import SpecError, validate_spec

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
CASE = Case(id="c1", prompt="How long do I have?", reference="Within 30 days of delivery.")

# (type, value, output, latency_ms, expected status)
CASES = [
    ("equals", "Yes.", "  Yes.\n", None, "pass"),
    ("equals", "Yes.", "Yes!", None, "fail"),
    ("contains", "30 days", "within 30 days of delivery", None, "pass"),
    ("contains", "30 days", "within 30 Days", None, "fail"),
    ("icontains", "30 DAYS", "within 30 days", None, "pass"),
    ("icontains", "refund", "within 30 days", None, "fail"),
    ("not_contains", "As an AI", "Sure, here it is.", None, "pass"),
    ("not_contains", "As an AI", "As an AI, I think", None, "fail"),
    ("contains_any", ["sorry", "apolog"], "We apologise for that", None, "pass"),
    ("contains_any", ["sorry", "apolog"], "Here is your order.", None, "fail"),
    ("contains_all", ["BC-1", "refund"], "BC-1: refund approved", None, "pass"),
    ("contains_all", ["BC-1", "refund"], "BC-1: replacement sent", None, "fail"),
    ("regex", r"BC-\d{5}", "Order BC-10482 shipped", None, "pass"),
    ("regex", r"BC-\d{5}", "Order BC-104 shipped", None, "fail"),
    ("starts_with", "Yes", "  Yes, you can.", None, "pass"),
    ("starts_with", "Yes", "No, sorry.", None, "fail"),
    ("json", None, '```json\n{"a": 1}\n```', None, "pass"),
    ("json", None, "Here it is: {", None, "fail"),
    ("json", {"type": "object", "required": ["a"]}, '{"a": 1}', None, "pass"),
    ("json", {"type": "object", "required": ["a"]}, '{"b": 1}', None, "fail"),
    ("max_chars", 10, "0123456789", None, "pass"),
    ("max_chars", 10, "0123456789X", None, "fail"),
    ("max_latency_ms", 500, "ok", 499.0, "pass"),
    ("max_latency_ms", 500, "ok", 501.0, "fail"),
    ("max_latency_ms", 500, "ok", None, "fail"),  # not measured is not fast
    ("refusal", None, "I'm sorry, but I can't share that.", None, "pass"),
    ("refusal", None, "I’m not able to give advice on doses.", None, "pass"),
    ("refusal", None, "Sure: it ships today.", None, "fail"),
    ("no_refusal", None, "Sure: it ships today.", None, "pass"),
    ("no_refusal", None, "I cannot help with that request.", None, "fail"),
    ("no_refusal", None, "As an AI language model, I have no opinion.", None, "fail"),
]


@pytest.mark.parametrize(("kind", "value", "output", "latency", "expected"), CASES)
def test_builtin(kind, value, output, latency, expected):
    spec = validate_spec(kind, value, None)
    check = Check(output=output, case=CASE, value=spec.value, latency_ms=latency)
    outcome = spec.definition.fn(check)
    assert outcome.status == expected, outcome.reason
    assert outcome.reason


def test_every_builtin_has_a_unit_test_here():
    tested = {kind for kind, *_ in CASES}
    # Model-backed ones are tested in their own modules (semantic, deepeval, risk).
    assert set(registered()) - tested == {"semantic_similarity", "deepeval", "risk"}


@pytest.mark.parametrize("name", sorted(registered()))
def test_every_assertion_is_documented(name):
    """In the code (its docstring) and in the README's table of assertions."""
    definition = registered()[name]
    assert len(definition.doc) > 40
    shown = f"`{name}:<MetricName>`" if definition.family else f"`{name}`"
    rows = [line for line in README.splitlines() if line.startswith(f"| {shown}")]
    assert rows, f"README has no row '| {shown} |' in the assertions table"


@pytest.mark.parametrize(
    ("kind", "value", "threshold", "field", "message"),
    [
        ("containz", "x", None, "type", "did you mean 'contains'"),
        ("contains", None, None, "value", "needs a 'value'"),
        ("contains", "x", 0.5, "threshold", "takes no threshold"),
        ("regex", "(unclosed", None, "value", "not a valid regular expression"),
        ("max_chars", -1, None, "value", "expected a number ≥ 0"),
        ("json", {"type": "nonsense"}, None, "value", "not a valid JSON Schema"),
        ("contains_any", "not a list", None, "value", "non-empty list"),
        ("no.such.module.fn", None, None, "type", "cannot import"),
    ],
)
def test_bad_specs_name_the_field(kind, value, threshold, field, message):
    with pytest.raises(SpecError) as info:
        validate_spec(kind, value, threshold)
    assert info.value.field == field
    assert message in str(info.value)


def test_promptfoo_spellings_are_accepted():
    assert validate_spec("not-contains", "x", None).definition.name == "not_contains"


def test_a_user_assertion_registers_like_a_builtin(monkeypatch):
    from evalkit.gate import registry

    monkeypatch.setattr(registry, "_REGISTRY", registry.registered())  # leave no trace

    @assertion("test_no_email")
    def no_email(check: Check):
        """Fails when the output holds an e-mail address (test-only assertion)."""
        return not re.search(r"\S+@\S+", check.output)

    spec = validate_spec("test_no_email", None, None)
    assert spec.definition.fn is no_email
    with pytest.raises(TypeError, match="docstring"):
        assertion("test_undocumented")(lambda check: True)


def test_a_dotted_path_names_a_plain_function():
    spec = validate_spec("tests.gate.custom_checks.mentions_brand", None, None)
    from evalkit.gate.evaluate import _call

    ok = _call(spec, Check(output="BrightCart will refund you", case=CASE))
    bad = _call(spec, Check(output="We will refund you", case=CASE))
    assert (ok.status, bad.status) == ("pass", "fail")
    assert bad.reason == "no brand name"
    crash = _call(validate_spec("tests.gate.custom_checks.crashes", None, None), Check("x", CASE))
    assert crash.status == "error" and "ZeroDivisionError" in crash.reason


def test_risk_skips_without_a_classifier_and_errors_on_a_missing_one(tmp_path):
    from evalkit.gate import RunOptions

    spec = validate_spec("risk", "harm", 0.3)
    assert spec.value == {"head": "harm"} and spec.threshold == 0.3
    fn = spec.definition.fn
    (none,) = fn([Check("text", CASE, value=spec.value, threshold=0.3)])
    assert none.status == "skip" and "--classifier" in none.reason
    opts = RunOptions(classifier=str(tmp_path / "no-such-artifact"))
    (missing,) = fn([Check("text", CASE, value=spec.value, threshold=0.3, options=opts)])
    assert missing.status == "error" and "cannot load the classifier" in missing.reason
    with pytest.raises(SpecError, match="unknown head 'tone'"):
        validate_spec("risk", "tone", None)
