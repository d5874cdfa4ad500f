"""``evalkit train``: from the store's final labels to a registered, versioned artifact.

Per head: too few labels (or positives) and the head is skipped with the reason. Otherwise a
held-out split (grouped by ``group`` when known, else by prompt) measures a model trained the
same way on the rest: AP, ROC-AUC, ECE, precision and recall at the thresholds, results per
model and intent. The shipped model is then refitted on every label; its calibration and
thresholds come from its own out-of-fold scores. One artifact carries every trained head.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import UsageError
from evalkit.learn.artifact import MODEL_FILE, write_artifact
from evalkit.learn.card import model_card
from evalkit.learn.data import HEADS, Example, LabelledSet
from evalkit.learn.features import RiskFeatures
from evalkit.learn.metrics import at_threshold, by_stratum, ranking_report
from evalkit.learn.model import RiskHead, RiskModel
from evalkit.records import utcnow


@dataclass(frozen=True)
class TrainOptions:
    heads: tuple[str, ...] = HEADS
    target_precision: float = 0.9
    #: share of positives at or above the review threshold
    review_recall: float = 0.8
    min_labels: int = 40
    min_positives: int = 8
    test_size: float = 0.25
    #: below this many positives expected in the held-out split, evaluate by grouped
    #: cross-validation instead (every label scored once, out of fold; see ``evaluate_head``)
    min_test_positives: int = 30
    seed: int = 0
    #: ``single`` won on the shared datasets (benchmarks/classifier_quality.py); see README
    kind: str = "single"
    folds: int = 5
    #: regularization strengths tried (out of fold) per head
    cs: tuple[float, ...] = (0.25, 1.0, 4.0)

    def __post_init__(self) -> None:
        if not 0.5 <= self.target_precision < 1:
            raise UsageError(f"target precision must be in [0.5, 1), got {self.target_precision}")
        unknown = sorted(set(self.heads) - set(HEADS))
        if unknown:
            raise UsageError(f"unknown head(s) {', '.join(unknown)}; heads: {', '.join(HEADS)}")


@dataclass
class TrainResult:
    version: str
    path: Path
    metadata: dict[str, Any]
    skipped: dict[str, str] = field(default_factory=dict)
    oof: dict[str, np.ndarray] = field(default_factory=dict)
    sets: dict[str, LabelledSet] = field(default_factory=dict)


def split_holdout(
    data: LabelledSet, test_size: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices; whole groups go to one side, both sides keep positives."""
    groups = data.groups if data.groups is not None else np.arange(len(data)).astype(str)
    for _attempt in range(20):
        unique = rng.permutation(np.array(sorted(set(groups.tolist())), dtype=object))
        test_groups = set(unique[: max(1, round(test_size * len(unique)))].tolist())
        in_test = np.array([g in test_groups for g in groups])
        if 0 < data.y[in_test].sum() < in_test.sum() and data.y[~in_test].sum() > 0:
            return np.flatnonzero(~in_test), np.flatnonzero(in_test)
    raise UsageError(
        f"head {data.head}: cannot split the labels into train and test "
        "with positives on both sides; label more responses"
    )


def skip_reason(data: LabelledSet, options: TrainOptions) -> str | None:
    counts = data.counts
    if counts["labelled"] < options.min_labels:
        return f"{counts['labelled']} labels, needs at least {options.min_labels}"
    if min(counts["positive"], counts["negative"]) < options.min_positives:
        return (
            f"{counts['positive']} positive and {counts['negative']} negative labels, needs "
            f"at least {options.min_positives} of each"
        )
    return None


def _head_params(options: TrainOptions) -> dict[str, Any]:
    return {
        "kind": options.kind,
        "seed": options.seed,
        "folds": options.folds,
        "target_precision": options.target_precision,
        "review_recall": options.review_recall,
        "Cs": options.cs,
    }


def evaluation_folds(
    data: LabelledSet, options: TrainOptions
) -> tuple[str, list[tuple[np.ndarray, np.ndarray]]]:
    """How a head is evaluated: ``("held-out", [one split])`` when the held-out share would
    hold at least ``min_test_positives`` positives, else ``("cross-validation", folds)``:
    grouped, stratified folds of the same test share, so every label is scored once by a model
    that never saw its group. With a few dozen positives a single held-out split scores a
    handful of them and its AP or ROC-AUC can land anywhere (the demo's 42 hallucination
    positives gave a held-out ROC-AUC of 0.32 on one split and 0.54 to 0.92 on others);
    pooling the folds uses all of them."""
    rng = np.random.default_rng(options.seed)
    if data.y.sum() * options.test_size >= options.min_test_positives:
        return "held-out", [split_holdout(data, options.test_size, rng)]
    from sklearn.model_selection import StratifiedGroupKFold

    groups = data.groups if data.groups is not None else np.arange(len(data)).astype(str)
    n_folds = min(round(1 / options.test_size), int(data.y.sum()), len(set(groups.tolist())))
    if n_folds >= 2:
        splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=options.seed)
        folds = list(splitter.split(np.zeros(len(data)), data.y, groups))
        # every fold's model must see both classes (positives packed in a few groups may not)
        if all(0 < data.y[train].sum() < len(train) for train, _ in folds):
            return "cross-validation", folds
    raise UsageError(
        f"head {data.head}: cannot split the labels into folds whose training side holds "
        "positives and negatives (too few groups); label more responses"
    )


def evaluate_head(data: LabelledSet, options: TrainOptions, encoder_dir: Path) -> dict[str, Any]:
    """Out-of-sample report of models trained the same way on the rest of ``data``: on one
    held-out split, or pooled over grouped cross-validation folds (``evaluation_folds``).
    Thresholds are each fold's own, as the shipped model's are its own."""
    method, folds = evaluation_folds(data, options)
    scored = np.concatenate([test_idx for _, test_idx in folds])
    p = np.full(len(data), np.nan)
    block = np.zeros(len(data), dtype=bool)
    review = np.zeros(len(data), dtype=bool)
    thresholds: dict[str, list[float | None]] = {"block": [], "review": []}
    for train_idx, test_idx in folds:
        train, test = data.subset(train_idx), data.subset(test_idx)
        model = RiskModel(RiskFeatures(encoder_dir=str(encoder_dir))).fit_features(train.examples)
        head = model.fit_head(
            data.head, train.examples, train.y, train.groups, **_head_params(options)
        )
        p[test_idx] = model.predict_scores(test.examples)[data.head]
        if head.block_threshold_ is not None:
            block[test_idx] = p[test_idx] >= head.block_threshold_
        review[test_idx] = p[test_idx] >= head.review_threshold_
        thresholds["block"].append(head.block_threshold_)
        thresholds["review"].append(head.review_threshold_)
    y, p, examples = data.y[scored], p[scored], [data.examples[i] for i in scored]
    tp = options.target_precision
    return {
        **ranking_report(y, p, target_precision=tp),
        "interval_95": ranking_intervals(y, p, seed=options.seed),
        "split": {
            "method": method,
            "folds": len(folds),
            "train": int(np.mean([len(train_idx) for train_idx, _ in folds])),
            "test": len(scored),
            "grouped": data.groups is not None and len(set(data.groups)) < len(data),
        },
        "at_block_threshold": _flagged_report(y, block[scored], thresholds["block"]),
        "at_review_threshold": _flagged_report(y, review[scored], thresholds["review"]),
        "by_model": by_stratum(y, p, [ex.model_id for ex in examples]),
        "by_intent": by_stratum(y, p, [ex.intent for ex in examples]),
    }


def ranking_intervals(y: np.ndarray, p: np.ndarray, *, seed: int) -> dict[str, Any]:
    """95% bootstrap intervals (scipy, percentile, resampling labels and scores as pairs) of
    AP and ROC-AUC: how far the figures could move on another sample of the same size."""
    from scipy.stats import bootstrap
    from sklearn.metrics import average_precision_score, roc_auc_score

    if not 0 < y.sum() < len(y):
        return {"ap": None, "roc_auc": None}
    out: dict[str, Any] = {}
    for name, metric in (("ap", average_precision_score), ("roc_auc", roc_auc_score)):

        def statistic(yy: np.ndarray, pp: np.ndarray, metric: Any = metric) -> float:
            # a resample with one class only has no ranking: NaN, which the interval ignores
            return float(metric(yy, pp)) if 0 < yy.sum() < len(yy) else float("nan")

        result = bootstrap(
            (y, p),
            statistic,
            paired=True,
            vectorized=False,
            n_resamples=500,
            method="percentile",
            random_state=seed,
        )
        low, high = result.confidence_interval
        out[name] = [round(float(low), 4), round(float(high), 4)]
    return out


def _flagged_report(
    y: np.ndarray, flagged: np.ndarray, thresholds: list[float | None]
) -> dict[str, Any]:
    """Precision, recall and share of the responses flagged by the thresholds of their fold
    (``threshold``: the one split's, or None over several folds, which each have their own;
    ``thresholds``: every fold's)."""
    tp = int((flagged & (y == 1)).sum())
    rounded = [None if t is None else round(float(t), 6) for t in thresholds]
    return {
        "threshold": rounded[0] if len(rounded) == 1 else None,
        "thresholds": rounded,
        "precision": round(tp / int(flagged.sum()), 4) if flagged.any() else None,
        "recall": round(tp / max(int(y.sum()), 1), 4),
        "flagged_share": round(float(flagged.mean()), 4) if len(y) else 0.0,
    }


def train_classifier(
    sets: dict[str, LabelledSet],
    options: TrainOptions,
    *,
    out_dir: Path,
    encoder_dir: Path,
    now: datetime | None = None,
    log: Any = None,
) -> TrainResult:
    """Train every head of ``options.heads`` that has enough labels and write the artifact."""
    say = log or (lambda _msg: None)
    now = now or utcnow()
    skipped: dict[str, str] = {}
    usable: dict[str, LabelledSet] = {}
    for head in options.heads:
        data = sets.get(head)
        reason = "no labels" if data is None or len(data) == 0 else skip_reason(data, options)
        if reason:
            skipped[head] = reason
            say(f"skipping head {head}: {reason}")
        else:
            assert data is not None
            usable[head] = data
    if not usable:
        raise UsageError(
            "no head has enough labels to train: "
            + "; ".join(f"{h}: {r}" for h, r in skipped.items())
        )
    union = list(
        {(ex.id or ex.response): ex for d in usable.values() for ex in d.examples}.values()
    )
    model = RiskModel(RiskFeatures(encoder_dir=str(encoder_dir))).fit_features(union)
    heads_meta: dict[str, Any] = {}
    oof: dict[str, np.ndarray] = {}
    for head, data in usable.items():
        say(f"training head {head} on {len(data)} labels ({int(data.y.sum())} positive)")
        held_out = evaluate_head(data, options, encoder_dir)
        fitted: RiskHead = model.fit_head(
            head, data.examples, data.y, data.groups, **_head_params(options)
        )
        oof[head] = fitted.oof_
        heads_meta[head] = {
            "counts": data.counts,
            "data_hash": data.data_hash(),
            "kind": fitted.kind_,
            "calibration": fitted.calibrator_.method,
            "calibration_log_loss": {k: round(v, 4) for k, v in fitted.calibration_losses_.items()},
            "thresholds": {"block": fitted.block_threshold_, "review": fitted.review_threshold_},
            "held_out": held_out,
            "out_of_fold": {
                **ranking_report(data.y, fitted.oof_, target_precision=options.target_precision),
                "at_block_threshold": at_threshold(data.y, fitted.oof_, fitted.block_threshold_),
                "at_review_threshold": at_threshold(data.y, fitted.oof_, fitted.review_threshold_),
            },
        }
    digest = hashlib.sha256(
        json.dumps(
            {h: m["data_hash"] for h, m in heads_meta.items()} | {"options": repr(options)},
            sort_keys=True,
        ).encode()
    ).hexdigest()
    version = f"rc-{now:%Y%m%d-%H%M%S}-{digest[:8]}"
    metadata = {
        "version": version,
        "trained_at": now.isoformat(),
        "heads": heads_meta,
        "skipped": skipped,
        "target_precision": options.target_precision,
        "review_recall": options.review_recall,
        "seed": options.seed,
        "options": {k: v for k, v in vars(options).items() if k != "heads"},
    }
    path = write_artifact(
        model, metadata, model_card(metadata), out_dir / version, encoder_dir=encoder_dir
    )
    final = json.loads((path / "metadata.json").read_text())
    return TrainResult(version, path, final, skipped, oof, usable)


def thresholds_of(metadata: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    return {head: dict(meta["thresholds"]) for head, meta in metadata["heads"].items()}


def model_sha256(metadata: dict[str, Any]) -> str:
    return str(metadata["files"][MODEL_FILE])


def examples_of(records: Sequence[Any]) -> list[Example]:
    """Examples from ResponseRecords (or anything with their attributes)."""
    return [
        Example(
            id=r.id,
            prompt=r.prompt or "",
            response=r.response,
            context=r.context,
            confidence=r.confidence,
            model_id=r.model_id,
            intent=r.intent,
            group=(r.metadata or {}).get("group"),
            meta=dict(r.metadata or {}),
        )
        for r in records
    ]
