"""Training: heads, skipping, reproducibility, calibration, thresholds, the card, suspects."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evalkit.errors import UsageError
from evalkit.learn.calibration import Calibrator, expected_calibration_error
from evalkit.learn.data import LabelledSet
from evalkit.learn.features import RiskFeatures
from evalkit.learn.metrics import threshold_for_precision
from evalkit.learn.model import RiskHead
from evalkit.learn.suspects import find_suspects
from evalkit.learn.train import TrainOptions, train_classifier
from tests.learn import support


def test_one_artifact_carries_every_trained_head(trained):
    meta = trained.metadata
    assert sorted(meta["heads"]) == ["hallucination", "harm", "impolite"]
    for head, info in meta["heads"].items():
        held = info["held_out"]
        # The demo's labels are learnable: far better than the positive rate a coin would get.
        assert held["ap"] > 2 * held["observed_rate"], head
        assert 0 <= info["thresholds"]["review"] <= (info["thresholds"]["block"] or 1)
        split = held["split"]
        if split["method"] == "held-out":
            assert split["test"] + split["train"] == info["counts"]["labelled"], head
        else:  # every label scored once, out of fold
            assert split["test"] == info["counts"]["labelled"] and split["folds"] >= 2, head
        low, high = held["interval_95"]["ap"]
        assert low <= held["ap"] <= high, head
    assert sorted(p.name for p in trained.path.iterdir()) == [
        "MODEL_CARD.md",
        "encoder",
        "metadata.json",
        "model.skops",
    ]
    card = (trained.path / "MODEL_CARD.md").read_text()
    words_in_card = ("held-out", "ECE", "precision", "| model |", "| intent |", "95%")
    for words in (*words_in_card, meta["version"]):
        assert words in card
    assert meta["libraries"]["scikit-learn"] and len(meta["heads"]["harm"]["data_hash"]) == 64


def test_a_head_without_enough_labels_is_skipped_with_the_reason(static_model, tmp_path):
    sets = support.demo_sets()
    few = sets["harm"].subset(np.arange(30))
    result = train_classifier(
        {"impolite": sets["impolite"].subset(np.arange(200)), "harm": few},
        TrainOptions(heads=("harm", "impolite"), **support.FAST),
        out_dir=tmp_path,
        encoder_dir=static_model,
    )
    assert result.skipped == {"harm": "30 labels, needs at least 40"}
    assert list(result.metadata["heads"]) == ["impolite"]
    with pytest.raises(UsageError, match="no head has enough labels"):
        train_classifier(
            {"harm": few}, TrainOptions(), out_dir=tmp_path / "none", encoder_dir=static_model
        )


def _fit_scores(data: LabelledSet, static_model, seed: int) -> np.ndarray:
    features = RiskFeatures(encoder_dir=str(static_model)).fit(data.examples)
    blocks = features.transform_blocks(data.examples)
    head = RiskHead(seed=seed, kind="stack", folds=3, Cs=(0.5, 2.0)).fit(blocks, data.y)
    return np.concatenate([head.predict_proba(blocks)[:, 1], head.oof_])


def test_training_reproduces_with_a_seed(static_model):
    data = support.demo_sets()["hallucination"].subset(np.arange(300))
    first, again = _fit_scores(data, static_model, 5), _fit_scores(data, static_model, 5)
    other = _fit_scores(data, static_model, 6)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)  # the seed is what chose the folds


def test_held_out_predicted_rate_matches_the_observed_one(trained, static_model):
    """On held-out data, calibrated scores are frequencies: overall, and in each fifth of the
    scores within three standard errors of the observed rate (plus a little slack)."""
    for head, info in trained.metadata["heads"].items():
        held = info["held_out"]
        assert abs(held["mean_score"] - held["observed_rate"]) < 0.05, head
    data = support.demo_sets()["hallucination"]
    rng = np.random.default_rng(0)
    order = rng.permutation(len(data))
    train, test = data.subset(order[:300]), data.subset(order[300:])
    features = RiskFeatures(encoder_dir=str(static_model)).fit(train.examples)
    head = RiskHead(kind="single", folds=3, Cs=(1.0,)).fit(
        features.transform_blocks(train.examples), train.y
    )
    p = head.predict_proba(features.transform_blocks(test.examples))[:, 1]
    for part in np.array_split(np.argsort(p), 5):
        predicted, observed = p[part].mean(), test.y[part].mean()
        se = np.sqrt(max(predicted * (1 - predicted), 0.01) / len(part))
        assert abs(predicted - observed) <= 3 * se + 0.02, (predicted, observed)


def test_each_calibration_method_fixes_overconfident_scores():
    rng = np.random.default_rng(0)
    truth = rng.random(4000)
    y = (rng.random(4000) < truth).astype(int)
    logit = np.log(truth / (1 - truth)) * 3  # three times too confident
    raw = 1 / (1 + np.exp(-logit))
    for method in ("temperature", "sigmoid", "isotonic"):
        fitted = Calibrator(method).fit(logit[:2000], y[:2000]).transform(logit[2000:])
        assert expected_calibration_error(y[2000:], fitted) < 0.04, method
    assert expected_calibration_error(y[2000:], raw[2000:]) > 0.1


def test_block_threshold_reaches_the_target_precision():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    p = np.clip(y * 0.4 + rng.random(500) * 0.6, 0, 1)
    t = threshold_for_precision(y, p, 0.9)
    assert t is not None and y[p >= t].mean() >= 0.9
    assert threshold_for_precision(y, rng.random(500), 0.99) is None  # out of reach: never block


def test_suspect_labels_find_flipped_ones(trained):
    data = trained.sets["hallucination"]
    oof = trained.oof["hallucination"]
    # Flip the labels of the most confidently negative responses: confident learning must
    # name them among its suspects.
    flipped = np.argsort(oof)[:10]
    y = data.y.copy()
    y[flipped] = 1 - y[flipped]
    noisy = LabelledSet(data.head, data.examples, y, data.groups)
    found = {s.response_id for s in find_suspects(noisy, oof, limit=50)}
    assert len(found & {data.examples[i].id for i in flipped}) >= 8


def test_metadata_is_json_with_file_hashes(trained):
    meta = json.loads((trained.path / "metadata.json").read_text())
    assert "model.skops" in meta["files"] and meta["format"] == "evalkit-classifier/1"
    assert any(name.startswith("encoder/") for name in meta["files"])


def test_scarce_positives_are_evaluated_by_grouped_cross_validation():
    """A few dozen positives: a single held-out split would score a handful, so every label is
    scored once out of fold, whole groups on one side; plenty of positives: one split."""
    from evalkit.learn.data import Example, LabelledSet
    from evalkit.learn.train import evaluation_folds

    n = 400
    y = np.zeros(n, dtype=np.int64)
    y[::10] = 1  # 40 positives: 10 expected in a 25% split, under the default minimum of 30
    groups = np.array([f"g{i // 2}" for i in range(n)], dtype=object)
    data = LabelledSet("harm", [Example(response=f"r{i}") for i in range(n)], y, groups)
    method, folds = evaluation_folds(data, TrainOptions())
    assert method == "cross-validation" and len(folds) == 4
    scored = np.concatenate([test for _, test in folds])
    assert sorted(scored.tolist()) == list(range(n))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
        assert y[test].sum() > 0
    method, folds = evaluation_folds(data, TrainOptions(min_test_positives=5))
    assert method == "held-out" and len(folds) == 1
    # Every positive in one group: no fold can train on positives and test on others.
    packed = LabelledSet("harm", data.examples, y, np.where(y == 1, "same", groups))
    with pytest.raises(UsageError, match="cannot split the labels into folds"):
        evaluation_folds(packed, TrainOptions())
