"""Model-backed assertions with the real models: the bundled MiniLM and deepeval, offline."""

from __future__ import annotations

import json

import pytest

from evalkit.gate import Case, Check, RunOptions, evaluate, load_suite
from evalkit.gate.outputs import CandidateOutput
from evalkit.gate.registry import validate_spec
from tests.gate.gate_helpers import GOLDEN, GOOD, REGRESSED, case, write_suite

REF = Case(id="c", prompt="How long?", reference="You can return items within 30 days of delivery.")


@pytest.mark.slow
def test_semantic_similarity_scores_meaning():
    spec = validate_spec("semantic_similarity", None, 0.7)
    checks = [
        Check("Items can be sent back up to 30 days after they arrive.", REF, threshold=0.7),
        Check("Our shop sells coffee grinders and desk fans.", REF, threshold=0.7),
        Check("Anything", REF, value="Anything", threshold=0.7),
    ]
    close, far, same = spec.definition.fn(checks)
    assert close.status == "pass" and close.score > 0.7
    assert far.status == "fail" and far.score < 0.3
    assert same.score == pytest.approx(1.0, abs=1e-5)
    assert "similarity 0." in far.reason and "threshold 0.7" in far.reason


@pytest.mark.slow
def test_summaries_suite_good_passes_regressed_fails():
    from evalkit.gate import load_outputs, run_gate

    suite = load_suite(GOLDEN / "summaries.yaml")
    (good,) = run_gate([suite], load_outputs(GOOD))
    (bad,) = run_gate([suite], load_outputs(REGRESSED), baseline=load_outputs(GOOD))
    assert good.passed and not bad.passed
    assert bad.comparison.regressed == ("refund-approved", "late-delivery-credit", "warranty-claim")


@pytest.mark.slow
def test_deepeval_deterministic_metrics_run_offline_and_judges_skip(tmp_path):
    path = write_suite(
        tmp_path / "d.yaml",
        [
            case(
                "exact",
                {"type": "deepeval:ExactMatchMetric"},
                {"type": "deepeval:PatternMatch", "value": r".*\d+ days.*"},  # a full match
                reference="Within 30 days.",
            ),
            case("judged", {"type": "deepeval:FaithfulnessMetric", "threshold": 0.7}),
        ],
    )
    suite = load_suite(path)
    outputs = {
        "exact": [CandidateOutput("exact", "Within 30 days.")],
        "judged": [CandidateOutput("judged", "Within 30 days.")],
    }
    exact, judged = evaluate(suite, outputs, options=RunOptions())
    assert [a.outcome.status for a in exact.runs[0].assertions] == ["pass", "pass"]
    assert "exact matches" in exact.runs[0].assertions[0].outcome.reason
    (faith,) = judged.runs[0].assertions
    assert faith.outcome.status == "skip"  # never a pass without a judge
    assert "EVALKIT_JUDGE_BASE_URL" in faith.outcome.reason
    assert judged.status == "skip" and judged.verdict is None
    wrong = evaluate(suite, {"exact": [CandidateOutput("exact", "Within 14 days")]})[0]
    assert [a.outcome.status for a in wrong.runs[0].assertions] == ["fail", "pass"]
    with pytest.raises(ValueError, match="deepeval has no metric 'NoSuchMetric'"):
        validate_spec("deepeval:NoSuchMetric", None, None)


@pytest.mark.slow
def test_export_loads_as_a_deepeval_dataset(tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app

    out = tmp_path / "goldens.json"
    result = CliRunner().invoke(
        app,
        ["golden", "export-deepeval", str(GOLDEN / "support-answers.yaml"), "--out", str(out),
         "--outputs", str(GOOD)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    first = rows[0]
    assert first["input"] == "How long do I have to return an item?"
    assert first["expected_output"].startswith("You can return items within 30 days")
    assert first["actual_output"].startswith("You can return items within 30 days")
    assert first["additional_metadata"]["case_id"] == "refund-window"
    chat = next(r for r in rows if r["additional_metadata"]["case_id"] == "refund-chat-followup")
    assert chat["input"] == "And how long until the money is back?"
    from deepeval.dataset import EvaluationDataset

    dataset = EvaluationDataset()
    dataset.add_goldens_from_json_file(str(out))
    assert len(dataset.goldens) == 20
    assert dataset.goldens[0].expected_output == first["expected_output"]
    from evalkit.gate.export import evaluation_dataset

    assert len(evaluation_dataset(load_suite(GOLDEN / "refusals.yaml")).goldens) == 8
