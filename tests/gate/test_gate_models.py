"""Model-backed assertions with the real models: the bundled MiniLM and deepeval, offline."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

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


class StandInJudge(BaseHTTPRequestHandler):
    """An OpenAI-compatible judge on loopback: GEval asks it for evaluation steps, then for a
    score; one JSON answer carries both. ``score`` is what it gives every answer."""

    score = 9
    models: ClassVar[list[str]] = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        StandInJudge.models.append(body.get("model"))
        content = json.dumps({"steps": ["Is it polite?"], "score": self.score, "reason": "judged"})
        data = json.dumps(
            {
                "id": "j",
                "object": "chat.completion",
                "created": 0,
                "model": body.get("model"),
                "choices": [
                    {"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": content}}
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        ).encode()  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.mark.slow
def test_llm_judge_metrics_run_against_a_configured_judge(tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), StandInJudge)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    judge = f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    geval = {
        "type": "deepeval:GEval",
        "value": {"criteria": "Is the answer polite?"},
        "threshold": 0.5,
    }
    suite = write_suite(tmp_path / "j.yaml", [case("polite", geval)])
    outputs = tmp_path / "o.jsonl"
    outputs.write_text('{"id": "polite", "output": "It ships today, thanks for asking!"}\n')
    argv = [
        "gate",
        str(suite),
        "--outputs",
        str(outputs),
        "--no-record",
        "--json",
        str(tmp_path / "r.json"),
    ]
    env = {"EVALKIT_DATA_DIR": str(tmp_path / "d")}
    try:
        skipped = CliRunner().invoke(app, argv, env=env)
        assert skipped.exit_code == 1  # not judged: never a pass, and the case is not counted
        assert "needs an LLM judge" in skipped.output
        env |= {"EVALKIT_JUDGE_BASE_URL": judge, "EVALKIT_JUDGE_MODEL": "judge-1"}
        StandInJudge.score = 9
        good = CliRunner().invoke(app, argv, env=env)
        assert good.exit_code == 0, good.output
        (run,) = json.loads((tmp_path / "r.json").read_text())["suites"][0]["cases"][0]["runs"]
        assert run["assertions"][0]["score"] == pytest.approx(0.9)
        StandInJudge.score = 2
        bad = CliRunner().invoke(app, argv, env=env)
        assert bad.exit_code == 1 and "score 0.200 (threshold 0.5)" in bad.output
        assert set(StandInJudge.models) == {"judge-1"}
    finally:
        httpd.shutdown()
        httpd.server_close()
