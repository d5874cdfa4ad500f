"""`evaluate_rules` on a demo store: the regression and the drift turn red, alerts are stored
once, re-runs do not duplicate them, and a cleared condition closes them."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np

from evalkit.store import watch as store
from evalkit.watch import data as watch_data
from evalkit.watch.estimate import rate
from evalkit.watch.run import evaluate_rules
from tests.watch.demo_store import bag_of_words

RULES = Path(__file__).resolve().parents[2] / "evalkit" / "demo" / "watch_rules.yaml"


def test_weighted_rates_recover_the_truth_and_ignore_the_risk_stream(demo):
    db, _, traffic = demo
    data = watch_data.load(db)
    sample = data.sample("hallucination")
    assert set(sample["strategy"]) == {"stratified"}
    truth = np.mean([t["hallucination"] for t in traffic.truth.values()])
    est = rate(sample["y"], sample["inclusion_probability"], sample["stratum"].to_numpy())
    assert est.low <= truth <= est.high
    assert est.method == "wilson-design"


def test_demo_rules_turn_the_regression_and_the_drift_red(demo):
    db, settings, _ = demo
    run = evaluate_rules(db, settings, RULES, notify=False, encode=bag_of_words)
    red = {(s.rule, s.cell) for s in run.red}
    assert ("hallucination-by-version", "swift-mini-0.9.5") in red
    assert ("prompt-topic-drift", "product_question") in red
    assert ("prompt-length-drift-critical-intents", "product_question") in red
    # nothing else about versions or topics is red
    assert {c for r, c in red if r == "hallucination-by-version"} == {"swift-mini-0.9.5"}
    assert {c for r, c in red if r == "prompt-topic-drift"} == {"product_question"}
    by_key = {s.key: s for s in run.states}
    regression = by_key["hallucination-by-version|model_version=swift-mini-0.9.5"]
    assert "for 24h" in regression.reason and regression.action == "roll back the model version"
    opened = store.alerts(db, status="open")
    assert {s.key for s in run.red} <= {a.key for a in opened}
    # again: the same alerts, refreshed, not duplicated
    again = evaluate_rules(db, settings, RULES, notify=False, encode=bag_of_words)
    assert {a.id for a in store.alerts(db, status="open")} == {a.id for a in opened}
    assert {a.key for a in again.opened} == {a.key for a in opened}


def test_before_the_regression_nothing_about_versions_is_red_and_alerts_close(demo):
    db, settings, _ = demo
    evaluate_rules(db, settings, RULES, notify=False, encode=bag_of_words)
    early = evaluate_rules(
        db, settings, RULES, notify=False, encode=bag_of_words,
        at=watch_data.load(db).traffic["created_at"].min().to_pydatetime() + timedelta(days=8),
    )  # fmt: skip
    assert not [s for s in early.red if s.rule == "hallucination-by-version"]
    assert any(k.startswith("hallucination-by-version") for k in early.closed)
    closed = store.alerts(db, status="closed")
    events = store.alert_events(db, closed[0].id)
    assert [e["kind"] for e in events][-1] == "closed"
