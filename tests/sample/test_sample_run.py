"""Sampling into the queue on both stores: probabilities stored, no repeats, clear errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from evalkit.errors import UsageError
from evalkit.sample.policy import parse_policy, run_policy
from evalkit.sample.run import SampleRequest, sample
from tests.review.conftest import T0, add_responses


def items(db):
    with db.engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT response_id, strategy, stratum, inclusion_probability, required_reviews "
                "FROM review_items ORDER BY response_id"
            )
        ).all()


def test_random_and_stratified_store_probabilities_and_never_repeat(db):
    add_responses(db, 60)
    report = sample(db, SampleRequest("random", 6, seed=3), overlap_share=0.5)
    assert (report.population, report.added) == (60, 6)
    first = items(db)
    assert {row.inclusion_probability for row in first} == {0.1}
    assert 0 < sum(row.required_reviews == 2 for row in first) == report.overlap_items < 6
    # The next run draws from the 54 responses the queue does not hold yet.
    again = sample(db, SampleRequest("stratified", 6, by=("model_id",), allocation="equal"))
    sizes = {name: size for name, (size, _) in again.strata.items()}
    assert again.population == 54 == sum(sizes.values())
    assert {name: n for name, (_, n) in again.strata.items()} == {
        "model_id=atlas-xl": 3,
        "model_id=swift-mini": 3,
    }
    rows = [row for row in items(db) if row.strategy == "stratified"]
    assert {(row.stratum, row.inclusion_probability) for row in rows} == {
        (name, 3 / size) for name, size in sizes.items()
    }
    assert len({row.response_id for row in items(db)}) == 12


def test_a_seed_reproduces_the_sample(db):
    add_responses(db, 40)
    sample(db, SampleRequest("random", 5, queue="a", seed=11))
    sample(db, SampleRequest("random", 5, queue="b", seed=11))
    with db.engine.connect() as conn:
        picked = conn.execute(text("SELECT queue, response_id FROM review_items")).all()
    assert {r for q, r in picked if q == "a"} == {r for q, r in picked if q == "b"}


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (SampleRequest("stratified", 5, by=("colour",)), "unknown stratum field 'colour'"),
        (SampleRequest("random", 500), "above the population of 30"),
        (SampleRequest("random", 5, since=T0 + timedelta(days=99)), "empty population"),
        (
            SampleRequest("stratified", 5, by=("intent",), quotas={"intent=refund": 11}),
            "quota 11 for stratum 'intent=refund' is above its population of 10",
        ),
        (SampleRequest("risk", 5), "train one with `evalkit train`"),
        (SampleRequest("uncertainty", 5), "none is active yet"),
        (SampleRequest("clever", 5), "strategy 'clever'"),
    ],
)
def test_bad_requests_change_nothing(db, request_, message):
    add_responses(db, 30)
    with pytest.raises(UsageError, match=message):
        sample(db, request_)
    assert items(db) == []


def test_filters_and_risk_scores(db):
    add_responses(db, 30)
    scores = {f"r-{i:04d}": i / 30 for i in range(30)}
    report = sample(db, SampleRequest("risk", 3, model_id="atlas-xl"), scores=scores)
    assert report.population == 15
    assert [(row.response_id, row.strategy) for row in items(db)] == [
        ("r-0024", "risk"),
        ("r-0026", "risk"),
        ("r-0028", "risk"),
    ]


POLICY = {
    "queue": "audit",
    "rules": {
        "audit": "random 20% per day",
        "by-model": "stratified model_id, 2 per stratum per day",
    },
}


def test_policy_runs_never_double_sample_and_keep_exact_probabilities(db):
    add_responses(db, 50)  # all received at T0
    rules = parse_policy(POLICY)
    first = run_policy(db, rules, now=T0 + timedelta(hours=2))
    # The day of T0 has not ended (plus the hour's grace): the quota rule waits.
    assert [(r.rule, r.considered, r.periods) for r in first] == [
        ("audit", 50, 0),
        ("by-model", 0, 0),
    ]
    audit = [row for row in items(db) if row.stratum == "audit"]
    assert audit and {row.inclusion_probability for row in audit} == {0.2}
    again = run_policy(db, rules, now=T0 + timedelta(hours=3))
    assert [r.added for r in again] == [0, 0]  # same decisions, nothing new
    later = run_policy(db, rules, now=T0 + timedelta(days=1, hours=2))
    assert later[1].periods == 1 and later[1].added == 4
    quota = [row for row in items(db) if row.stratum.startswith("by-model:")]
    pool = 50 - len(audit)  # the rule's day, less what the audit rule queued first
    assert len(quota) == 4 and sum(1 / row.inclusion_probability for row in quota) == (
        pytest.approx(pool)
    )
    assert run_policy(db, rules, now=T0 + timedelta(days=1, hours=5))[1].periods == 0
    changed = parse_policy({"queue": "audit", "rules": {"audit": "random 30% per day"}})
    with pytest.raises(UsageError, match="changed since it last ran"):
        run_policy(db, changed, now=T0 + timedelta(days=2))


@pytest.mark.parametrize(
    ("policy", "message"),
    [
        ({"rules": {"x": "random lots"}}, "cannot read 'random lots'"),
        ({"rules": {"x": "random 200%"}}, r"rate must be a share in \(0, 1\]"),
        ({"rules": {"x": "stratified colour, 5 per stratum per day"}}, "unknown stratum field"),
        ({"rules": {"x": {"strategy": "random", "rate": 0.1, "colour": 1}}}, "unknown key"),
        ({"nope": 1}, "expected a mapping with 'rules'"),
    ],
)
def test_bad_policies_are_refused(policy, message):
    with pytest.raises(UsageError, match=message):
        parse_policy(policy)
