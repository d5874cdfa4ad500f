"""Cohort gaps of the traffic-wide rates: refusal (the gate's refusal markers on the stored
response) and escalation (among responses whose outcome is known), flagged only when the
interval excludes zero and the gap is large enough."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from evalkit.errors import UsageError
from evalkit.records import ResponseRecord
from evalkit.watch import data as watch_data
from evalkit.watch.data import WatchData, is_refusal
from evalkit.watch.evaluate import evaluate_rule
from evalkit.watch.rules import GAP_HEADS, rule_from_dict
from evalkit.watch.run import evaluate_rules

AT = datetime(2026, 11, 20, tzinfo=UTC)
REFUSING = "I'm sorry, but I can't help with that request."
ANSWERING = "Your refund arrives within 5 business days."


def _rule(**spec):
    return rule_from_dict({"name": "gap", "metric": "cohort_gap", "red": 0.05, **spec}, "test")


def _empty_frames():
    design = pd.DataFrame(
        columns=["response_id", "queue", "strategy", "stratum", "inclusion_probability"]
    )
    return design, {}, pd.DataFrame(), pd.DataFrame(), pd.DataFrame()


def test_a_cohort_gap_rule_names_refusal_or_escalation_and_nothing_unknown():
    assert {"refusal", "escalation"} <= set(GAP_HEADS)
    assert _rule(by="user_segment", head="refusal").head == "refusal"
    assert _rule(by="tenant", head="escalation").head == "escalation"
    with pytest.raises(UsageError, match=r"unknown cohort_gap head 'refusals'.*refusal"):
        _rule(by="tenant", head="refusals")


def test_the_demo_texts_are_a_refusal_and_an_answer():
    # what the rest of this module builds on; the definition itself: tests/test_refusals.py
    assert [is_refusal(t) for t in (REFUSING, ANSWERING)] == [True, False]


def test_escalation_gap_counts_only_responses_whose_outcome_is_known():
    # "pro": 200 known outcomes, 30% escalated, and 300 unknown; "free": 500 known, 10%.
    # Counting the unknowns as "not escalated" would make pro's rate 12%: a 2-point gap.
    outcomes = (
        ["escalated"] * 60 + ["resolved"] * 140 + ["unknown"] * 300
        + ["escalated"] * 50 + ["resolved"] * 450
    )  # fmt: skip
    traffic = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(1000)],
            "created_at": pd.Timestamp(AT - timedelta(hours=1)),
            "user_segment": ["pro"] * 500 + ["free"] * 500,
            "outcome": outcomes,
        }
    )
    data = WatchData(traffic, *_empty_frames())
    rule = _rule(by="user_segment", head="escalation", window="1d")
    (pro,) = [s for s in evaluate_rule(rule, data, at=AT) if s.cell == "pro"]
    assert pro.value == pytest.approx(0.30 - 0.10)
    assert pro.n == 200 and pro.exposure_per_day == 500
    assert pro.low > 0.05 and pro.state == "red"


def _store_responses(db, *, per_segment: int, refusal_rates: dict[str, float], seed: int = 3):
    rng = np.random.default_rng(seed)
    records = []
    for segment, rate in refusal_rates.items():
        for i in range(per_segment):
            rid = f"{segment}-{i}"
            created = AT - timedelta(seconds=int(rng.integers(60, 86_000)))
            records.append(
                ResponseRecord(
                    id=rid,
                    received_at=created,
                    created_at=created,
                    prompt="Where is my refund?",
                    response=REFUSING if rng.random() < rate else ANSWERING,
                    user_segment=segment,
                    model_id="m",
                    content_hash=hashlib.sha256(rid.encode()).hexdigest(),
                )
            )
    with db.writer() as writer:
        writer.add_responses(records)
    return records


def test_refusal_gap_flags_the_segment_that_refuses_more(db, settings):
    records = _store_responses(db, per_segment=400, refusal_rates={"enterprise": 0.3, "free": 0.05})
    truth = {
        seg: np.mean([is_refusal(r.response) for r in records if r.user_segment == seg])
        for seg in ("enterprise", "free")
    }
    rules = [
        _rule(by="user_segment", head="refusal", window="1d", min_gap="5%"),
        rule_from_dict(
            {"name": "refusals", "metric": "refusal_rate", "by": "user_segment", "red": "20%"},
            "test",
        ),
    ]
    run = evaluate_rules(db, settings, rules, at=AT, notify=False, record=False)
    states = {(s.rule, s.cell): s for s in run.states}
    gap = states[("gap", "enterprise")]
    assert gap.value == pytest.approx(truth["enterprise"] - truth["free"])
    assert gap.low > 0 and gap.state == "red", gap.reason
    assert states[("gap", "free")].state == "green"  # it refuses less than the rest: no flag
    assert states[("refusals", "enterprise")].value == pytest.approx(truth["enterprise"])
    assert states[("refusals", "free")].state == "green"
    # without a rule that needs them, no text is read and there is no refused column
    assert "refused" not in watch_data.load(db, until=AT).traffic
