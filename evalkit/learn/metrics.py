"""Held-out measures of a head: ranking (AP, ROC-AUC), calibration (ECE) and operating points.

``threshold_for_precision`` picks the operating threshold: the lowest score at which precision
reaches the target, so the head blocks as much as it can while being right that often.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score

from evalkit.learn.calibration import expected_calibration_error


def threshold_for_precision(y: np.ndarray, p: np.ndarray, target: float) -> float | None:
    """Lowest threshold whose precision is ≥ ``target`` with at least 3 positives above it
    (None when the target is out of reach: the head then never blocks)."""
    precision, recall, thresholds = precision_recall_curve(y, p)
    true_positives = np.rint(recall[:-1] * int(np.sum(y)))
    ok = thresholds[(precision[:-1] >= target) & (true_positives >= 3)]
    return float(ok.min()) if len(ok) else None


def threshold_for_recall(y: np.ndarray, p: np.ndarray, target: float) -> float:
    """Highest threshold that still catches ``target`` of the positives (the review line)."""
    positives = np.sort(p[y == 1])[::-1]
    if len(positives) == 0:
        return 1.0
    k = max(int(np.ceil(target * len(positives))) - 1, 0)
    return float(positives[min(k, len(positives) - 1)])


def at_threshold(y: np.ndarray, p: np.ndarray, threshold: float | None) -> dict[str, Any]:
    if threshold is None:
        return {"threshold": None, "precision": None, "recall": 0.0, "flagged_share": 0.0}
    flagged = p >= threshold
    tp = int((flagged & (y == 1)).sum())
    return {
        "threshold": round(float(threshold), 6),
        "precision": round(tp / int(flagged.sum()), 4) if flagged.any() else None,
        "recall": round(tp / max(int(y.sum()), 1), 4),
        "flagged_share": round(float(flagged.mean()), 4),
    }


def recall_at_precision(y: np.ndarray, p: np.ndarray, target: float) -> float:
    """Best recall among thresholds with precision ≥ target (0 when none reaches it)."""
    precision, recall, _ = precision_recall_curve(y, p)
    ok = recall[precision >= target]
    return float(ok.max()) if len(ok) else 0.0


def ranking_report(
    y: np.ndarray, p: np.ndarray, *, target_precision: float = 0.9
) -> dict[str, Any]:
    """AP, ROC-AUC, recall at the target precision, ECE, counts: one head on one split."""
    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    both = 0 < y.sum() < len(y)
    return {
        "n": len(y),
        "positives": int(y.sum()),
        "ap": round(float(average_precision_score(y, p)), 4) if both else None,
        "roc_auc": round(float(roc_auc_score(y, p)), 4) if both else None,
        f"recall_at_p{round(target_precision * 100)}": round(
            recall_at_precision(y, p, target_precision), 4
        )
        if both
        else None,
        "ece": round(expected_calibration_error(y, p), 4),
        "mean_score": round(float(p.mean()), 4) if len(p) else None,
        "observed_rate": round(float(y.mean()), 4) if len(y) else None,
    }


def by_stratum(
    y: np.ndarray, p: np.ndarray, strata: list[str | None], *, min_n: int = 20
) -> dict[str, dict[str, Any]]:
    """``ranking_report`` per value of a stratum (model or intent) with at least ``min_n`` rows."""
    out: dict[str, dict[str, Any]] = {}
    values = np.array([s if s is not None else "" for s in strata], dtype=object)
    for value in sorted(set(values) - {""}):
        mask = values == value
        if mask.sum() >= min_n:
            out[str(value)] = ranking_report(y[mask], p[mask])
    return out
