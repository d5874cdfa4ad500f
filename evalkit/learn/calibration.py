"""Calibration: make a score of 0.3 mean that about 30% of such responses are positive.

Three maps from a model's logit to a probability, each fitted on out-of-fold scores so the
model never calibrates on what it memorised: ``temperature`` (one scale, keeps the ranking and
the 0 point), ``sigmoid`` (Platt: scale and shift) and ``isotonic`` (any monotone step map;
needs more data). ``choose_calibrator`` picks the one with the lowest cross-validated log loss.
The maps are plain arrays, so the guard applies them without sklearn's per-call overhead.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

METHODS = ("temperature", "sigmoid", "isotonic")
_EPS = 1e-6


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class Calibrator:
    """A fitted logit → probability map (``method`` is one of ``METHODS``)."""

    def __init__(self, method: str = "sigmoid") -> None:
        if method not in METHODS:
            raise ValueError(f"unknown calibration {method!r}; known: {', '.join(METHODS)}")
        self.method = method

    def fit(self, z: np.ndarray, y: np.ndarray) -> Calibrator:
        z = np.asarray(z, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        self.scale_, self.shift_ = 1.0, 0.0
        self.x_thresholds_ = np.array([0.0])
        self.y_thresholds_ = np.array([float(y.mean()) if len(y) else 0.5])
        if self.method == "temperature":

            def loss(log_t: float) -> float:
                p = np.clip(sigmoid(z / np.exp(log_t)), _EPS, 1 - _EPS)
                return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

            self.scale_ = float(
                1.0 / np.exp(minimize_scalar(loss, bounds=(-4, 4), method="bounded").x)
            )
        elif self.method == "sigmoid":
            lr = LogisticRegression(C=1e4).fit(z.reshape(-1, 1), y.astype(int))
            self.scale_, self.shift_ = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        else:
            iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(z, y)
            self.x_thresholds_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
            self.y_thresholds_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        return self

    def transform(self, z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=np.float64)
        if self.method == "isotonic":
            return np.interp(z, self.x_thresholds_, self.y_thresholds_)
        return sigmoid(self.scale_ * z + self.shift_)


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    p = np.clip(p, _EPS, 1 - _EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE: the bin-size-weighted mean |observed rate − mean predicted| over equal-width bins."""
    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if len(y) == 0:
        return float("nan")
    which = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.sum() * abs(y[mask].mean() - p[mask].mean())
    return float(total / len(y))


def choose_calibrator(
    z: np.ndarray, y: np.ndarray, *, seed: int, methods: tuple[str, ...] = METHODS
) -> tuple[Calibrator, dict[str, float]]:
    """The method with the lowest 5-fold log loss on (z, y), refitted on all of it, and each
    method's cross-validated log loss (for the model card)."""
    z = np.asarray(z, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    folds = min(5, int(np.bincount(y, minlength=2).min()))
    losses: dict[str, float] = {}
    if folds >= 2:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        for method in methods:
            p = np.empty(len(y))
            for train, test in splitter.split(z.reshape(-1, 1), y):
                p[test] = Calibrator(method).fit(z[train], y[train]).transform(z[test])
            losses[method] = log_loss(y, p)
        best = min(losses, key=losses.__getitem__)
    else:
        best = "sigmoid"
    return Calibrator(best).fit(z, y), losses
