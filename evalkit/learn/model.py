"""The risk classifier: per head, a linear model over the shared feature blocks, calibrated.

Two ways to weigh the blocks, chosen per head by out-of-fold average precision (``kind="auto"``)
or fixed: ``stack`` fits a logistic regression per block (its C tuned out of fold) and a second
one over their out-of-fold logits, so a noisy block is trusted less; ``single`` fits one tuned
logistic regression over all blocks side by side. Either way the fitted head is one linear map
per block plus a weight per block, so serving costs a sparse dot product per block whatever was
chosen. Out-of-fold logits then fit the calibrator and pick the operating thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from evalkit.learn.calibration import choose_calibrator
from evalkit.learn.data import Example
from evalkit.learn.features import RiskFeatures, stack_blocks
from evalkit.learn.metrics import threshold_for_precision, threshold_for_recall

KINDS = ("auto", "stack", "single")
#: Relative weight of each block when ``single`` puts them side by side (TF-IDF rows have unit
#: norm; the dense blocks would otherwise dominate the penalty).
SINGLE_WEIGHTS = {"word": 1.0, "char": 1.0, "prompt": 0.7, "embed": 0.7, "signals": 0.25}


def make_splits(y: np.ndarray, groups: np.ndarray | None, *, folds: int, seed: int) -> list:
    """Stratified folds that never split a group (when groups repeat)."""
    folds = max(2, min(folds, int(np.bincount(y, minlength=2).min())))
    index = np.zeros((len(y), 1))
    if groups is not None and len(set(groups.tolist())) < len(groups):
        splitter: Any = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(splitter.split(index, y, groups))
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    return list(splitter.split(index, y))


def _lr(C: float, X: Any) -> LogisticRegression:
    # lbfgs, not liblinear: with the dense embedding columns beside TF-IDF, liblinear's
    # coordinate descent took ~100x longer to converge (measured: 8.8 s against 0.1 s a fit).
    return LogisticRegression(C=C, solver="lbfgs", max_iter=1000)


def _oof_logits(
    X: Any, y: np.ndarray, splits: list, Cs: Sequence[float]
) -> tuple[float, np.ndarray]:
    """The C (of ``Cs``) with the best out-of-fold AP, and its out-of-fold logits."""
    best: tuple[float, float, np.ndarray] | None = None
    for C in Cs:
        z = np.zeros(len(y))
        for train, test in splits:
            z[test] = _lr(C, X).fit(X[train], y[train]).decision_function(X[test])
        ap = average_precision_score(y, z)
        if best is None or ap > best[0]:
            best = (ap, C, z)
    assert best is not None
    return best[1], best[2]


class RiskHead(ClassifierMixin, BaseEstimator):
    """One head over precomputed feature blocks (``fit(blocks, y)``; blocks: name → matrix).

    Learned: ``kind_``, ``weights_`` (block → (coef, intercept)), ``meta_`` (block → weight),
    ``meta_intercept_``, ``calibrator_``, ``block_threshold_`` (None: never block),
    ``review_threshold_`` and ``oof_`` (calibrated out-of-fold probabilities, for reports and
    suspect labels).
    """

    def __init__(
        self,
        kind: str = "auto",
        Cs: tuple[float, ...] = (0.25, 1.0, 4.0),
        folds: int = 5,
        seed: int = 0,
        target_precision: float = 0.9,
        review_recall: float = 0.8,
        calibration: str = "auto",
    ) -> None:
        self.kind = kind
        self.Cs = Cs
        self.folds = folds
        self.seed = seed
        self.target_precision = target_precision
        self.review_recall = review_recall
        self.calibration = calibration

    def fit(
        self, blocks: dict[str, Any], y: np.ndarray, groups: np.ndarray | None = None
    ) -> RiskHead:
        # One BLAS thread: these fits are many small solves, and on a shared machine BLAS's
        # own threads oversubscribe the cores (measured: 10x slower with the default).
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return self._fit(blocks, y, groups)

    def _fit(self, blocks: dict[str, Any], y: np.ndarray, groups: np.ndarray | None) -> RiskHead:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        y = np.asarray(y, dtype=np.int64)
        self.classes_ = np.array([0, 1])
        names = list(blocks)
        splits = make_splits(y, groups, folds=self.folds, seed=self.seed)
        candidates: dict[str, tuple[float, np.ndarray, Any]] = {}
        if self.kind in ("auto", "stack"):
            candidates["stack"] = self._fit_stack(blocks, names, y, splits)
        if self.kind in ("auto", "single"):
            candidates["single"] = self._fit_single(blocks, names, y, splits)
        self.oof_ap_ = {k: round(v[0], 4) for k, v in candidates.items()}
        self.kind_ = max(candidates, key=lambda k: candidates[k][0])
        _ap, z_oof, fitted = candidates[self.kind_]
        self.weights_, self.meta_, self.meta_intercept_ = fitted
        methods = (
            ("temperature", "sigmoid", "isotonic")
            if self.calibration == "auto"
            else (self.calibration,)
        )
        self.calibrator_, self.calibration_losses_ = choose_calibrator(
            z_oof, y, seed=self.seed, methods=methods
        )
        self.oof_ = self.calibrator_.transform(z_oof)
        self.block_threshold_ = threshold_for_precision(y, self.oof_, self.target_precision)
        review = threshold_for_recall(y, self.oof_, self.review_recall)
        if self.block_threshold_ is not None:
            review = min(review, self.block_threshold_)
        self.review_threshold_ = float(review)
        return self

    def _fit_stack(
        self, blocks: dict[str, Any], names: list[str], y: np.ndarray, splits: list
    ) -> tuple[float, np.ndarray, Any]:
        oof = np.zeros((len(y), len(names)))
        weights = {}
        for j, name in enumerate(names):
            C, oof[:, j] = _oof_logits(blocks[name], y, splits, self.Cs)
            lr = _lr(C, blocks[name]).fit(blocks[name], y)
            weights[name] = (np.asarray(lr.coef_[0], dtype=np.float64), float(lr.intercept_[0]))
        meta_z = np.zeros(len(y))
        for train, test in splits:
            meta_z[test] = (
                LogisticRegression(C=1.0).fit(oof[train], y[train]).decision_function(oof[test])
            )
        meta = LogisticRegression(C=1.0).fit(oof, y)
        fitted = (
            weights,
            dict(zip(names, meta.coef_[0].tolist(), strict=True)),
            float(meta.intercept_[0]),
        )
        return float(average_precision_score(y, meta_z)), meta_z, fitted

    def _fit_single(
        self, blocks: dict[str, Any], names: list[str], y: np.ndarray, splits: list
    ) -> tuple[float, np.ndarray, Any]:
        X = stack_blocks(blocks, names, SINGLE_WEIGHTS)
        C, z = _oof_logits(X, y, splits, self.Cs)
        lr = _lr(C, X).fit(X, y)
        coef = np.asarray(lr.coef_[0], dtype=np.float64)
        weights, start = {}, 0
        for name in names:
            width = blocks[name].shape[1]
            # The block's scale folds into its coefficients, so serving needs no weighting.
            weights[name] = (coef[start : start + width] * SINGLE_WEIGHTS.get(name, 1.0), 0.0)
            start += width
        return (
            float(average_precision_score(y, z)),
            z,
            (weights, dict.fromkeys(names, 1.0), float(lr.intercept_[0])),
        )

    def decision_function(self, blocks: dict[str, Any]) -> np.ndarray:
        z = None
        for name, (coef, intercept) in self.weights_.items():
            part = np.asarray(blocks[name] @ coef).ravel() + intercept
            z = self.meta_[name] * part if z is None else z + self.meta_[name] * part
        assert z is not None
        return z + self.meta_intercept_

    def predict_proba(self, blocks: dict[str, Any]) -> np.ndarray:
        p = self.calibrator_.transform(self.decision_function(blocks))
        return np.column_stack([1 - p, p])

    def predict(self, blocks: dict[str, Any]) -> np.ndarray:
        return (self.predict_proba(blocks)[:, 1] >= 0.5).astype(int)


class RiskModel(BaseEstimator):
    """Features shared by every head plus one ``RiskHead`` per head: what an artifact holds.

    ``fit_head`` adds or replaces one head; ``predict_scores`` returns head → calibrated
    probabilities for a batch of examples, computing each feature block once.
    """

    def __init__(self, features: RiskFeatures | None = None) -> None:
        self.features = features

    def fit_features(self, examples: Sequence[Example]) -> RiskModel:
        """Fit the (unsupervised) feature blocks on every labelled text of every head."""
        # A clone, so the parameter stays unfitted (sklearn convention) and the artifact does not
        # carry the fitted blocks twice (skops saved ``features`` and ``features_`` in full).
        self.features_ = (
            clone(self.features) if self.features is not None else RiskFeatures()
        ).fit(examples)
        self.heads_: dict[str, RiskHead] = {}
        return self

    def fit_head(
        self,
        head: str,
        examples: Sequence[Example],
        y: np.ndarray,
        groups: np.ndarray | None = None,
        **params: Any,
    ) -> RiskHead:
        fitted = RiskHead(**params).fit(self.features_.transform_blocks(examples), y, groups)
        self.heads_[head] = fitted
        return fitted

    def predict_scores(self, examples: Sequence[Example]) -> dict[str, np.ndarray]:
        blocks = self.features_.transform_blocks(examples)
        return {head: model.predict_proba(blocks)[:, 1] for head, model in self.heads_.items()}
