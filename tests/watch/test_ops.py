"""Operational figures: quantiles, cost per successful outcome with review time, ROI; and the
guard-score estimate, labelled as such, where no human labels exist."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.watch.data import WatchData
from evalkit.watch.kpis import human_rate
from evalkit.watch.ops import ops_table


def _data(**columns) -> WatchData:
    traffic = pd.DataFrame(columns)
    return WatchData(
        traffic=traffic,
        design=pd.DataFrame(
            columns=["response_id", "queue", "strategy", "stratum", "inclusion_probability"]
        ),
        labels={},
        guard=pd.DataFrame(),
        seconds=pd.DataFrame({"response_id": ["a", "b"], "seconds": [1800.0, 1800.0]}),
        releases=pd.DataFrame(),
    )


def test_cost_per_success_counts_review_time_and_roi():
    data = _data(
        id=["a", "b", "c", "d"],
        model_id=["m"] * 4,
        latency_ms=[100.0, 200.0, 300.0, 4000.0],
        input_tokens=[10, 10, 10, 10],
        output_tokens=[5, 5, 5, 95],
        cost=[0.5, 0.5, 0.5, 0.5],
        outcome=["converted", "resolved", "dropped", None],
    )
    row = ops_table(data, ["model_id"], hourly_rate=30.0, value_per_conversion=10.0).iloc[0]
    assert row.responses == 4 and row.latency_p50 == pytest.approx(250.0)
    assert row.tokens_max == 105 and row.cost_max == 0.5
    assert row.review_cost == pytest.approx(30.0)  # an hour of review at 30/h
    assert row.cost_per_success == pytest.approx((2.0 + 30.0) / 2)
    assert row.conversion_rate == pytest.approx(1 / 3)  # among the three known outcomes
    assert row.roi == pytest.approx((10.0 - 32.0) / 32.0)


def test_without_labels_the_guard_score_is_shown_and_marked():
    data = _data(id=["a", "b", "c"], model_id=["m"] * 3, score_hallucination=[0.1, 0.2, np.nan])
    row = human_rate(data, "hallucination", "model_id").iloc[0]
    assert row["method"] == "score" and row["value"] == pytest.approx(0.15)
    assert "no human labels" in row["note"]
