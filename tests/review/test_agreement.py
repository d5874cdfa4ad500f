"""Agreement figures against hand-computed values, and the report over a real store."""

from __future__ import annotations

import math
import random
from datetime import timedelta

import pytest

from evalkit.review import claim, submit
from evalkit.review.agreement import agreement_report, cohen_kappa, krippendorff_alpha
from evalkit.sample import add_gold
from tests.review.conftest import T0, add_responses, queue_items

NOW = T0 + timedelta(days=1)


def test_cohen_kappa_by_hand():
    # p_o = 3/4; p_e = .5·.25 + .5·.75 = .5; kappa = (.75 - .5) / (1 - .5) = .5
    assert cohen_kappa(["y", "y", "n", "n"], ["y", "n", "n", "n"]) == pytest.approx(0.5)
    assert cohen_kappa(["y", "n"], ["y", "n"]) == pytest.approx(1.0)
    assert math.isnan(cohen_kappa(["y"], ["y"]))


def test_krippendorff_alpha_by_hand():
    # Coincidences: o_yy = 2, o_yn = o_ny = 1, o_nn = 4; n_y = 3, n_n = 5, n = 8.
    # D_o = 2/8; D_e = 2·3·5 / (8·7) = 30/56; alpha = 1 - (1/4)/(30/56) = 1 - 7/15 = 8/15.
    units = [{"a": "y", "b": "y"}, {"a": "y", "b": "n"}, {"a": "n", "b": "n"}, {"a": "n", "b": "n"}]
    assert krippendorff_alpha(units, order=["n", "y"]) == pytest.approx(8 / 15)
    # A third rater on one unit only, and a unit with a single value (not pairable): ignored.
    assert krippendorff_alpha([*units, {"c": "y"}], order=["n", "y"]) == pytest.approx(8 / 15)
    assert math.isnan(krippendorff_alpha([{"a": "y", "b": "y"}], order=["n", "y"]))


def test_report_over_the_queue(db, reviewers):
    ann, bob = reviewers["ann"], reviewers["bob"]
    r = add_responses(db, 5)
    overlap = queue_items(db, r[:4], k=2)
    (gold,) = add_gold(db, {r[4]: {"hallucination": "yes", "harm": "none"}}, now=T0).added
    answers = {ann.id: ["yes", "yes", "no", "no"], bob.id: ["yes", "no", "no", "no"]}
    for who in (ann, bob):
        for item_id, value in zip(overlap, answers[who.id], strict=True):
            got = claim(db, who, now=NOW)
            assert got is not None and got.item_id == item_id
            submit(db, who, item_id, {"hallucination": value, "harm": "none"}, now=NOW)
    claim(db, ann, gold_rate=1.0, rng=random.Random(1), now=NOW)
    submit(db, ann, gold, {"hallucination": "no", "harm": "none"}, now=NOW)

    report = agreement_report(db)
    fields = {f.field: f for f in report.fields}
    assert fields["hallucination"].alpha == pytest.approx(8 / 15)
    assert fields["hallucination"].items == 4
    assert math.isnan(fields["harm"].alpha)  # everyone said none: no variation to agree on
    (pair,) = [p for p in report.pairs if p.field == "hallucination"]
    assert (pair.reviewer_a, pair.reviewer_b, pair.items) == ("ann", "bob", 4)
    assert pair.kappa == pytest.approx(0.5)
    people = {p.username: p for p in report.reviewers}
    # Against the other reviewer (k = 2): 3 of 4 hallucination answers agree, 4 of 4 harm.
    assert people["ann"].with_consensus == pytest.approx(7 / 8)
    assert (people["ann"].gold_answers, people["ann"].gold_accuracy) == (2, 0.5)
    assert people["bob"].gold_answers == 0 and math.isnan(people["bob"].gold_accuracy)
