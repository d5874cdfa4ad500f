"""Rules: thresholds, exposure minimums and persistence keep a light from crying wolf; rules
files fail with messages naming the rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from evalkit.durations import parse_duration
from evalkit.errors import UsageError
from evalkit.watch.data import WatchData
from evalkit.watch.evaluate import evaluate_rule
from evalkit.watch.rules import Rule, load_rules, rule_from_dict

AT = datetime(2026, 11, 20, tzinfo=UTC)


def _data(per_day: int, days: int, rate_by_day, *, fraction: float = 0.5, seed: int = 0):
    """``days`` days of traffic of one version before AT, labelled at ``fraction``, with the
    hallucination rate of each day from ``rate_by_day(day)`` (day 0 = the last one)."""
    rng = np.random.default_rng(seed)
    rows, design, labels = [], [], []
    for day in range(days):
        for i in range(per_day):
            rid = f"r{day}-{i}"
            at = AT - timedelta(days=day) + timedelta(seconds=int(rng.integers(-86_399, 0)))
            rows.append({"id": rid, "created_at": at, "model_version": "v2"})
            if rng.random() < fraction:
                design.append([rid, "default", "random", "all", fraction])
                labels.append([rid, float(rng.random() < rate_by_day(day)), "single"])
    traffic = pd.DataFrame(rows)
    traffic["created_at"] = pd.to_datetime(traffic["created_at"], utc=True)
    return WatchData(
        traffic=traffic,
        design=pd.DataFrame(
            design, columns=["response_id", "queue", "strategy", "stratum", "inclusion_probability"]
        ),
        labels={
            "hallucination": pd.DataFrame(labels, columns=["response_id", "y", "label_source"])
        },
        guard=pd.DataFrame(),
        seconds=pd.DataFrame(),
        releases=pd.DataFrame(),
    )


RULE = Rule(
    name="hall",
    metric="hallucination_rate",
    by="model_version",
    red=0.05,
    yellow=0.03,
    window=timedelta(days=1),
    persistence=timedelta(hours=24),
    step=timedelta(hours=6),
    min_exposure=500,
    min_labelled=50,
)


def test_red_needs_the_condition_for_the_whole_persistence_window():
    always = evaluate_rule(RULE, _data(800, 4, lambda d: 0.15), at=AT)[0]
    assert always.state == "red" and "for 24h" in always.reason
    # bad only over the last half day: red now, but not for 24 h → yellow, saying so
    recent = evaluate_rule(RULE, _data(800, 4, lambda d: 0.4 if d == 0 else 0.01), at=AT)[0]
    assert recent.state == "yellow", recent.reason
    assert "of the 24h it must persist" in recent.reason


def test_a_spike_on_little_traffic_is_insufficient_not_red():
    # ten requests a day at a 60% rate: the 3 a.m. spike that must not page anyone
    spike = evaluate_rule(RULE, _data(10, 3, lambda d: 0.6), at=AT)[0]
    assert spike.state == "insufficient"
    assert "exposure 10/day below the minimum 500/day" in spike.reason
    assert spike.action.startswith("collect more data")


def test_rates_are_judged_on_the_interval_bound():
    # true rate 5.5% on ~200 labelled items a day: the estimate may cross 5%, the lower bound
    # of its interval does not, so no red
    rule = Rule(**{**RULE.__dict__, "persistence": timedelta(0), "min_exposure": 0})
    state = evaluate_rule(rule, _data(400, 2, lambda d: 0.055), at=AT)[0]
    assert state.state in ("yellow", "green"), state.reason
    assert state.reason.startswith("interval low")
    loose = Rule(**{**rule.__dict__, "statistic": "estimate", "red": 0.04})
    assert evaluate_rule(loose, _data(400, 2, lambda d: 0.09), at=AT)[0].state == "red"


def test_too_few_labels_is_insufficient():
    state = evaluate_rule(
        Rule(**{**RULE.__dict__, "min_exposure": 0, "persistence": timedelta(0)}),
        _data(60, 1, lambda d: 0.5, fraction=0.3),
        at=AT,
    )[0]
    assert state.state == "insufficient" and "labelled items, fewer than 50" in state.reason


def test_rule_files_are_checked(tmp_path):
    assert parse_duration("90min", "x") == timedelta(minutes=90)
    assert parse_duration("2w", "x") == timedelta(weeks=2)
    with pytest.raises(UsageError, match="expected a duration"):
        parse_duration("3m", "persistence")
    assert rule_from_dict({"name": "a", "metric": "harm_rate", "red": "3%"}, "r").red == 0.03
    with pytest.raises(UsageError, match="unknown metric 'hallucinations'"):
        rule_from_dict({"name": "a", "metric": "hallucinations", "red": 1}, "rules.yaml rule 1")
    with pytest.raises(UsageError, match="unknown key"):
        rule_from_dict({"name": "a", "metric": "harm_rate", "red": 1, "treshold": 2}, "r")
    with pytest.raises(UsageError, match="needs 'feature'"):
        rule_from_dict({"name": "a", "metric": "psi", "red": 0.2}, "r")
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n"
        "  - {name: a, metric: harm_rate, red: 1}\n"
        "  - {name: a, metric: harm_rate, red: 1}\n"
    )
    with pytest.raises(UsageError, match="unique"):
        load_rules(path)
    with pytest.raises(UsageError, match="does not exist"):
        load_rules(tmp_path / "absent.yaml")


def test_the_shipped_rule_files_load():
    from evalkit.watch.run import BUILTIN_RULES

    assert len(load_rules(BUILTIN_RULES)) >= 5
