"""Bounded look-back: each rule reads its own window, never all history, and a window above the
load cap is read as a seeded sample (plus every reviewed response) that still evaluates."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from evalkit.records import LabelHead, LabelRecord, ResponseRecord
from evalkit.review.types import NewItem
from evalkit.sample import enqueue_selection
from evalkit.store import watch as store
from evalkit.watch import data as watch_data
from evalkit.watch.evaluate import rule_lookback
from evalkit.watch.rules import rule_from_dict
from evalkit.watch.run import evaluate_rules

AT = datetime(2026, 11, 20, tzinfo=UTC)
N, DAYS, REVIEWED = 3000, 3, 0.1


@pytest.fixture
def big(db):
    """N responses over DAYS days before AT (one model), a 10% random review sample labelled
    with a 10% hallucination rate; and 50 old responses, outside every window."""
    rng = np.random.default_rng(11)
    records, items, labels = [], [], []
    for i in range(N + 50):
        rid = f"r{i}"
        old = i >= N
        back = timedelta(days=30) if old else timedelta(seconds=int(rng.integers(1, DAYS * 86_400)))
        created = AT - back
        records.append(
            ResponseRecord(
                id=rid, received_at=created, created_at=created, prompt="q", response="a",
                model_id="m", latency_ms=float(rng.integers(100, 900)),
                content_hash=hashlib.sha256(rid.encode()).hexdigest(),
            )
        )  # fmt: skip
        if not old and rng.random() < REVIEWED:
            items.append(NewItem(rid, "random", REVIEWED))
            labels.append(
                LabelRecord(
                    response_id=rid, head=LabelHead.HALLUCINATION, value=bool(rng.random() < 0.1),
                    annotator="truth", created_at=AT, source_kind="import",
                )
            )  # fmt: skip
    with db.writer() as writer:
        writer.add_responses(records)
    enqueue_selection(db, items, rng=rng)
    with db.writer() as writer:
        writer.add_labels(labels)
    return db, {item.response_id for item in items}


def _rules():
    return [
        rule_from_dict(
            {"name": "halluc", "metric": "hallucination_rate", "by": "model_id", "red": "50%",
             "window": f"{DAYS}d", "min_labelled": 10}, "test",
        ),
        rule_from_dict(
            {"name": "p50", "metric": "latency_p50", "by": "model_id", "red": 5000,
             "window": "1d"}, "test",
        ),
    ]  # fmt: skip


def test_a_window_above_the_cap_is_read_as_a_seeded_sample_with_every_reviewed_response(big):
    db, reviewed = big
    since = AT - timedelta(days=DAYS)
    data = watch_data.load(db, since=since, until=AT, cap=1000, seed=0)
    assert data.fraction == pytest.approx(1000 / N)
    assert 800 <= len(data.traffic) <= 1200  # a Bernoulli sample of 1000 expected
    assert "above the cap of 1,000" in data.note
    # no human label is lost to the sample: every reviewed response of the window is there
    assert set(data.sample("hallucination")["id"]) == reviewed
    again = watch_data.load(db, since=since, until=AT, cap=1000, seed=0)
    other = watch_data.load(db, since=since, until=AT, cap=1000, seed=1)
    assert list(again.traffic["id"]) == list(data.traffic["id"])
    assert set(other.traffic["id"]) != set(data.traffic["id"])
    # at or below the cap, everything is read and nothing is said
    full = watch_data.load(db, since=since, until=AT, cap=N)
    assert len(full.traffic) == N and full.fraction == 1.0 and full.note == ""


def test_a_capped_run_still_evaluates_with_exposure_scaled_to_the_traffic(big, settings):
    db, reviewed = big
    capped = evaluate_rules(db, settings, _rules(), at=AT, notify=False, record=False, cap=1000)
    full = evaluate_rules(db, settings, _rules(), at=AT, notify=False, record=False, cap=None)
    states = {s.rule: s for s in capped.states}
    exact = {s.rule: s for s in full.states}
    assert set(states) == {"halluc", "p50"}
    # the rate rests on every labelled item, the same as without the cap
    assert states["halluc"].n == exact["halluc"].n == len(reviewed)
    assert states["halluc"].value == pytest.approx(exact["halluc"].value)
    assert states["halluc"].state == exact["halluc"].state == "green"
    # exposure is the traffic's, estimated from the sample: about N / DAYS a day
    assert states["halluc"].exposure_per_day == pytest.approx(N / DAYS, rel=0.15)
    assert exact["halluc"].exposure_per_day == pytest.approx(N / DAYS)
    assert states["p50"].value == pytest.approx(exact["p50"].value, rel=0.1)
    # the run says where it sampled (the 3-day rule's window is above the cap; the 1-day too)
    assert any(note.startswith("halluc: ") and "above the cap" in note for note in capped.notes)
    assert full.notes == []


def test_each_rule_reads_its_own_look_back_never_all_history(big, settings, monkeypatch):
    db, _ = big
    reads: list[tuple] = []
    real = store.traffic

    def traffic(db, *, since=None, until=None, **kw):
        reads.append((since, until))
        return real(db, since=since, until=until, **kw)

    monkeypatch.setattr(store, "traffic", traffic)
    rules = _rules()
    run = evaluate_rules(db, settings, rules, notify=False, record=False, cap=None)
    assert run.states and all(since is not None for since, _ in reads)
    spans = {until - since for since, until in reads}
    assert spans == {rule_lookback(r) for r in rules} == {timedelta(days=DAYS), timedelta(days=1)}
    # as of the newest response, found by one MAX rather than by reading the traffic
    newest = real(db)["created_at"].max().to_pydatetime()
    assert run.at == newest + timedelta(milliseconds=1)


def test_look_back_is_window_persistence_and_a_reference_only_for_comparisons():
    def rule(**spec):
        return rule_from_dict({"name": "r", "red": 1, "window": "1d", **spec}, "test")

    assert rule_lookback(rule(metric="harm_rate", persistence="24h")) == timedelta(days=2)
    assert rule_lookback(rule(metric="psi", feature="intent", baseline="7d")) == timedelta(8)
    assert rule_lookback(rule(metric="conversion_drop")) == timedelta(days=2)


def test_the_command_reads_the_cap_from_settings_and_says_where_it_sampled(big, tmp_path):
    import json

    import yaml
    from typer.testing import CliRunner

    from evalkit.cli import app

    db, _ = big
    rules = tmp_path / "rules.yaml"
    rule = {
        "name": "halluc",
        "metric": "hallucination_rate",
        "red": "50%",
        "window": f"{DAYS}d",
        "min_labelled": 10,
    }
    rules.write_text(yaml.safe_dump({"rules": [rule]}))
    env = {
        "EVALKIT_DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "EVALKIT_DATA_DIR": str(tmp_path / "data"),
        "EVALKIT_WATCH_LOAD_CAP": "1000",
    }
    args = ["watch", "--rules", str(rules), "--at", AT.isoformat(), "--no-notify"]
    runner = CliRunner()
    out = runner.invoke(app, [*args, "--json"], env=env, catch_exceptions=False)
    notes = json.loads(out.stdout)["notes"]
    assert len(notes) == 1 and "above the cap of 1,000" in notes[0]
    text = runner.invoke(app, args, env=env, catch_exceptions=False).stdout
    assert "note: halluc: " in text
    uncapped = runner.invoke(
        app, [*args, "--json"], env={**env, "EVALKIT_WATCH_LOAD_CAP": "100000"}
    )
    assert json.loads(uncapped.stdout)["notes"] == []


def test_the_report_reads_a_capped_window_and_scales_its_totals(big, settings, tmp_path):
    from evalkit.watch.ops import ops_table
    from evalkit.watch.report import write_report

    db, _ = big
    capped = settings.model_copy(update={"watch_load_cap": 1000})
    out = tmp_path / "report.html"
    write_report(db, capped, _rules(), out, at=AT)
    html = out.read_text(encoding="utf-8")
    assert "sampled: " in html and "above the cap of 1,000" in html
    # Counts and sums in the cost table are the traffic's, estimated from the sample.
    since = AT - timedelta(days=DAYS)
    sample = watch_data.load(db, since=since, until=AT, cap=1000)
    full = watch_data.load(db, since=since, until=AT)
    estimated = ops_table(sample, ["model_id"]).iloc[0]
    exact = ops_table(full, ["model_id"]).iloc[0]
    assert estimated["responses"] == pytest.approx(exact["responses"], rel=0.15)
    assert estimated["latency_p50"] == pytest.approx(exact["latency_p50"], rel=0.1)


def test_a_capped_window_still_reports_the_traffics_worst_cost_and_tokens(big, db):
    from evalkit.watch.ops import ops_table

    # One costly response, whose content hash falls outside the sample: a sample's maximum
    # would miss it, the table must not.
    since = AT - timedelta(days=DAYS)
    sample = watch_data.load(db, since=since, until=AT, cap=1000)
    kept = set(sample.traffic["id"])
    rid = next(f"costly-{i}" for i in range(10_000) if _outside(sample, f"costly-{i}"))
    created = AT - timedelta(hours=1)
    with db.writer() as writer:
        writer.add_responses(
            [
                ResponseRecord(
                    id=rid, received_at=created, created_at=created, prompt="q", response="a",
                    model_id="m", cost=42.0, input_tokens=9000,
                    output_tokens=1000, content_hash=hashlib.sha256(rid.encode()).hexdigest(),
                )
            ]
        )  # fmt: skip
    sample = watch_data.load(db, since=since, until=AT, cap=1000)
    assert rid not in set(sample.traffic["id"]) and set(sample.traffic["id"]) == kept
    for by in (["model_id"], ["model_id", "intent"]):
        table = ops_table(sample, by)
        assert table["cost_max"].max() == 42.0, by
        assert table["tokens_max"].max() == 10_000, by
    # a narrower window cannot use the loaded window's maxima
    assert sample.window(since, AT).maxima is None


def _outside(sample, rid: str) -> bool:
    """Whether a response with id ``rid`` (content hash: the id's sha256) falls well outside the
    slice of the hash space the capped load reads (``load``: seed 0, ``fraction`` wide)."""
    begin = float(np.random.default_rng(0).random())
    position = int(hashlib.sha256(rid.encode()).hexdigest()[:8], 16) / 16**8
    offset = (position - begin) % 1.0  # where it falls, counted from the slice's start
    return sample.fraction + 0.05 < offset < 0.95
