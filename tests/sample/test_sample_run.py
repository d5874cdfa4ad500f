"""Sampling into the queue on both stores: probabilities stored, no repeats, clear errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from evalkit.errors import UsageError
from evalkit.sample.policy import parse_policy, run_policy
from evalkit.sample.run import SampleRequest, sample
from evalkit.store.mappers import aware
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


def score_by_number(ids, head):
    """Scores as a classifier would give them: r-0000 → 0.0 … r-0049 → 0.98 (threshold 0.5)."""
    assert head == "hallucination"
    return {rid: int(rid[2:]) / 50 for rid in ids}, 0.5


def queued(db):
    from sqlalchemy import select

    from evalkit.store.tables import REVIEW_ITEMS as IT

    with db.engine.connect() as conn:
        return conn.execute(select(IT).order_by(IT.c.response_id)).all()


TARGETED_POLICY = {
    "queue": "triage",
    "rules": {
        "risky": {"strategy": "risk", "head": "hallucination", "min_score": 0.9},
        "borderline": {"strategy": "uncertainty", "band": 0.05, "sla": "4h", "priority": 5},
        "audit": {"strategy": "random", "rate": 0.2, "priority": "high", "sla": "30min"},
    },
}


def test_targeted_policy_rules_flag_with_priority_and_sla_and_never_repeat(db):
    add_responses(db, 50)  # received at T0
    now = T0 + timedelta(hours=2)
    runs = run_policy(db, parse_policy(TARGETED_POLICY), now=now, scorer=score_by_number)
    assert [(r.rule, r.considered, r.selected, r.skipped) for r in runs][:2] == [
        ("risky", 50, 5, None),  # 0.90, 0.92, … 0.98
        ("borderline", 50 - 5, 5, None),  # 0.46 … 0.54, within 0.05 of 0.5
    ]
    rows = {row.response_id: row for row in queued(db)}
    risky = [row for row in rows.values() if row.stratum == "risky"]
    assert sorted(row.response_id for row in risky) == [f"r-00{i}" for i in range(45, 50)]
    for row in risky:  # flagged by a rule: high priority, due within the hour, the reason kept
        assert (row.strategy, row.inclusion_probability, row.priority) == ("risk", 1.0, 100)
        assert aware(row.due_at) == now + timedelta(hours=1)
        assert row.reason.startswith("rule risky: hallucination 0.9") and "≥ 0.9" in row.reason
    border = [row for row in rows.values() if row.stratum == "borderline"]
    assert sorted(row.response_id for row in border) == [f"r-00{i}" for i in range(23, 28)]
    assert {(row.strategy, row.priority) for row in border} == {("uncertainty", 5)}
    assert {aware(row.due_at) for row in border} == {now + timedelta(hours=4)}
    audit = [row for row in rows.values() if row.stratum == "audit"]
    # priority and SLA change the serving order, never the probability
    assert audit and {(r.strategy, r.inclusion_probability, r.priority) for r in audit} == {
        ("policy", 0.2, 100)
    }
    assert {aware(row.due_at) for row in audit} == {now + timedelta(minutes=30)}
    # A later run scores only what arrived since (plus the re-scan hour): nothing twice.
    again = run_policy(
        db, parse_policy(TARGETED_POLICY), now=now + timedelta(hours=3), scorer=score_by_number
    )
    assert [(r.considered, r.added) for r in again] == [(0, 0)] * 3
    assert len(queued(db)) == len(rows)


def test_targeted_rules_wait_for_a_classifier_without_stopping_the_others(db):
    add_responses(db, 50)
    policy = {"rules": {"risky": {"strategy": "risk"}, "audit": "random 50% per day"}}
    runs = run_policy(db, parse_policy(policy), now=T0 + timedelta(hours=1))
    assert runs[0].skipped and "evalkit train" in runs[0].skipped and runs[0].added == 0
    assert runs[1].skipped is None and runs[1].added > 0
    # Nothing recorded for the skipped rule: once a classifier exists it looks back as if new.
    from evalkit.store.sampling import get_rule

    assert get_rule(db, "risky") is None
    later = run_policy(
        db, parse_policy(policy), now=T0 + timedelta(hours=2), scorer=score_by_number
    )
    audited = {row.response_id for row in queued(db) if row.stratum == "audit"}
    assert later[0].considered == 50 - len(audited)  # one queue: never twice in it
    # The head's review threshold (0.5) when the rule names no min_score.
    assert later[0].added == len({f"r-{i:04d}" for i in range(25, 50)} - audited) > 0


def test_a_targeted_rules_first_run_looks_back_only_its_window(db):
    add_responses(db, 10)  # received at T0
    policy = {"rules": {"risky": {"strategy": "risk", "min_score": 0.0, "lookback": "6h"}}}
    late = run_policy(db, parse_policy(policy), now=T0 + timedelta(days=2), scorer=score_by_number)
    assert (late[0].considered, late[0].added) == (0, 0)
    fresh = {"rules": {"fresh": {"strategy": "risk", "min_score": 0.0, "lookback": "3d"}}}
    run = run_policy(db, parse_policy(fresh), now=T0 + timedelta(days=2), scorer=score_by_number)
    assert (run[0].considered, run[0].added) == (10, 10)


def test_rules_stored_before_targeted_keys_compare_equal():
    """A policy saved by an earlier release has no head/priority/sla keys: still the same rule."""
    (rule,) = parse_policy({"rules": {"audit": "random 2% per day"}})
    assert set(rule.spec()) == {
        "name", "queue", "strategy", "rate", "by", "per_stratum", "period",
        "tenant", "model_id", "intent",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        ({"strategy": "risk", "band": 0.1}, "band applies to uncertainty rules"),
        ({"strategy": "uncertainty", "min_score": 0.5}, "min_score applies to risk rules"),
        ({"strategy": "risk", "min_score": 1.5}, "min_score: expected a score from 0 to 1"),
        ({"strategy": "risk", "rate": 0.1}, "a risk rule takes head"),
        ({"strategy": "random", "rate": 0.1, "head": "harm"}, "apply to risk and uncertainty"),
        ({"strategy": "risk", "sla": "3m"}, "sla: expected a duration"),
        ({"strategy": "risk", "priority": "urgent"}, "priority must be high, normal"),
        ({"strategy": "bandit"}, "strategy must be random"),
    ],
)
def test_bad_targeted_rules_are_refused(rule, message):
    with pytest.raises(UsageError, match=message):
        parse_policy({"rules": {"x": rule}})
