"""Trust the judges and close the loop, against final labels in a real store (both stores)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.gate import load_suite
from evalkit.gate.align import align, parse_spec
from evalkit.gate.from_review import add_to_suite, cases_from_review
from evalkit.records import LabelHead, LabelRecord, ResponseRecord
from evalkit.review import accounts, claim, submit
from evalkit.sample import enqueue_flagged

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
# (response, humans say it hallucinates): the check `not_contains "90 days"` flags 4 of them.
REVIEWED = [
    ("Returns are accepted within 90 days of delivery.", True),  # tp
    ("You have 90 days to send it back, no questions asked.", True),  # tp
    ("Our window is 90 days for everything.", True),  # tp
    ("Refunds take 90 days to arrive.", False),  # fp: true for this tenant, as it happens
    ("Standard shipping is free on every order worldwide.", True),  # fn
    ("Returns are accepted within 30 days of delivery.", False),  # tn
    ("Refunds go back to your card within 5 business days.", False),  # tn
    ("Express orders placed before 2 pm ship the same day.", False),  # tn
]


def store_responses(db, texts):
    records = [
        ResponseRecord(
            id=f"r-{i}",
            received_at=T0,
            created_at=T0 + timedelta(minutes=i),
            prompt=f"Question {i} about returns?",
            context="Refunds are accepted within 30 days of delivery." if i % 2 else None,
            response=text,
            intent="refund_policy",
            model_id="swift-mini",
            content_hash=f"h{i}",
        )
        for i, text in enumerate(texts)
    ]
    with db.writer() as w:
        w.add_responses(records)
    return [r.id for r in records]


def import_labels(db, labels):
    with db.writer() as w:
        w.add_labels(
            [
                LabelRecord(
                    response_id=rid,
                    head=LabelHead.HALLUCINATION,
                    value=value,
                    annotator="support-leads",
                    created_at=T0,
                    source_kind="import",
                )
                for rid, value in labels
            ]
        )


def test_alignment_of_a_check_with_human_labels(db):
    ids = store_responses(db, [text for text, _ in REVIEWED])
    import_labels(db, [(rid, truth) for rid, (_, truth) in zip(ids, REVIEWED, strict=True)])
    result = align(db, parse_spec('{type: not_contains, value: "90 days"}'), "hallucination")
    d = result.as_dict()
    assert d["confusion"] == {"tp": 3, "fp": 1, "fn": 1, "tn": 3}
    assert (d["n"], d["precision"], d["recall"], d["accuracy"]) == (8, 0.75, 0.75, 0.75)
    assert d["kappa"] == pytest.approx(0.5)
    low, high = d["kappa_95ci"]
    assert low < 0.5 < high and high - low > 0.5  # eight items: a wide interval, honestly
    assert d["precision_95ci"][0] < 0.75 < d["precision_95ci"][1]
    assert {(x["response_id"], x["judge_flagged"]) for x in d["disagreements"]} == {
        ("r-3", True),
        ("r-4", False),
    }
    # A check that cannot judge (no classifier for `risk`) is counted apart, never as agreement.
    blind = align(db, parse_spec("{type: risk, value: harm}"), "hallucination")
    assert (blind.confusion.n, blind.unjudged) == (0, 8)


def test_align_command(tmp_path, store_url, db):
    ids = store_responses(db, [text for text, _ in REVIEWED])
    import_labels(db, [(rid, truth) for rid, (_, truth) in zip(ids, REVIEWED, strict=True)])
    env = {"EVALKIT_DATA_DIR": str(tmp_path / "d"), "EVALKIT_DATABASE_URL": store_url}
    args = ["gate", "align", "--assert", '{type: regex, value: "90 days"}', "--head"]
    result = CliRunner().invoke(app, [*args, "hallucination", "--json"], env=env)
    assert result.exit_code == 0, result.output
    # regex *passes* on "90 days", so it flags the other four: the inverse of a useful judge.
    assert json.loads(result.output)["confusion"] == {"tp": 1, "fp": 3, "fn": 3, "tn": 1}
    text = CliRunner().invoke(app, [*args, "hallucination"], env=env).output
    assert "kappa     -0.500 (95% CI" in text
    assert "precision 0.250 (95% CI" in text
    empty = CliRunner().invoke(
        app, ["gate", "align", "--assert", "refusal", "--head", "harm"], env=env
    )
    assert empty.exit_code == 2 and "no reviewed response has a final 'harm' label" in empty.output


def reviewed_failure(db):
    """One queue review that found a hallucination, with correction and note; one that found
    nothing; and an imported positive without either."""
    ids = store_responses(
        db,
        [
            "Returns are accepted within 90 days of delivery. Start from the order page.",
            "Returns are accepted within 30 days of delivery.",
            "Sure.",
        ],
    )
    ann = accounts.add_reviewer(db, "ann")
    enqueue_flagged(db, ids[:2], reason="test", now=T0)
    for _ in range(2):
        got = claim(db, ann, now=T0)
        verdict = "yes" if got.response.id == ids[0] else "no"
        extra = (
            {"correction": "Returns are accepted within 30 days of delivery.",
             "note": "Invented a 90-day window."}
            if verdict == "yes"
            else {}
        )  # fmt: skip
        submit(db, ann, got.item_id, {"hallucination": verdict}, now=T0, **extra)
    import_labels(db, [(ids[2], True)])
    return ids


def test_reviewed_failures_become_golden_cases(db, tmp_path):
    ids = reviewed_failure(db)
    cases = cases_from_review(db)
    assert [c["id"] for c in cases] == [f"review-{ids[0]}", f"review-{ids[2]}"]
    first, second = cases
    assert first["reference"] == "Returns are accepted within 30 days of delivery."
    assert first["description"] == "Invented a 90-day window."
    assert first["tags"] == ["from-review", "hallucination", "refund_policy"]
    assert first["assert"] == [
        {"type": "not_contains", "value": "Returns are accepted within 90 days of delivery."},
        {"type": "semantic_similarity", "threshold": 0.7},
        {"type": "risk", "value": "hallucination"},
    ]
    # No correction, an opening too short to forbid: only the guard's check, no reference.
    assert "reference" not in second and second["assert"] == [
        {"type": "risk", "value": "hallucination"}
    ]

    # Appended to an inline suite after its last case, comments kept; again: nothing new.
    suite = tmp_path / "caught.yaml"
    suite.write_text(
        "# caught in production\nname: caught\ncases:\n"
        "  - id: old\n    prompt: p\n    assert: [{type: contains, value: x}]\n"
    )
    assert add_to_suite(suite, cases) == (2, 0)
    assert add_to_suite(suite, cases) == (0, 2)
    assert suite.read_text().startswith("# caught in production\n")
    loaded = load_suite(suite)
    assert [c.id for c in loaded.cases] == ["old", f"review-{ids[0]}", f"review-{ids[2]}"]
    assert loaded.cases[1].reference == "Returns are accepted within 30 days of delivery."


def test_add_from_review_command_and_cases_file(db, store_url, tmp_path):
    reviewed_failure(db)
    env = {"EVALKIT_DATA_DIR": str(tmp_path / "d"), "EVALKIT_DATABASE_URL": store_url}
    (tmp_path / "big.cases.jsonl").write_text(
        json.dumps({"id": "old", "prompt": "p", "assert": [{"type": "contains", "value": "x"}]})
        + "\n"
    )
    suite = tmp_path / "big.yaml"
    suite.write_text("name: big\ncases_file: big.cases.jsonl\n")
    result = CliRunner().invoke(app, ["golden", "add-from-review", "--suite", str(suite)], env=env)
    assert result.exit_code == 0, result.output
    assert "Added 2 case(s)" in result.output
    ids = [c.id for c in load_suite(suite).cases]
    assert ids[0] == "old" and len(ids) == 3
    new = tmp_path / "new.yaml"
    result = CliRunner().invoke(
        app, ["golden", "add-from-review", "--suite", str(new), "--head", "harm"], env=env
    )
    assert "nothing to add" in result.output and not new.exists()
    result = CliRunner().invoke(app, ["golden", "add-from-review", "--suite", str(new)], env=env)
    assert yaml.safe_load(new.read_text())["name"] == "new"
