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


def evaluate_head(data: LabelledSet, options: TrainOptions, encoder_dir: Path) -> dict[str, Any]:
    """Held-out report of a model trained the same way on the rest of ``data``."""
    train_idx, test_idx = split_holdout(
        data, options.test_size, np.random.default_rng(options.seed)
    )
    train, test = data.subset(train_idx), data.subset(test_idx)
    model = RiskModel(RiskFeatures(encoder_dir=str(encoder_dir))).fit_features(train.examples)
    head = model.fit_head(data.head, train.examples, train.y, train.groups, **_head_params(options))
    p = model.predict_scores(test.examples)[data.head]
    tp = options.target_precision
    return {
        **ranking_report(test.y, p, target_precision=tp),
        "split": {
            "train": len(train),
            "test": len(test),
            "grouped": data.groups is not None and len(set(data.groups)) < len(data),
        },
        "at_block_threshold": at_threshold(test.y, p, head.block_threshold_),
        "at_review_threshold": at_threshold(test.y, p, head.review_threshold_),
        "by_model": by_stratum(test.y, p, [ex.model_id for ex in test.examples]),
        "by_intent": by_stratum(test.y, p, [ex.intent for ex in test.examples]),
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
