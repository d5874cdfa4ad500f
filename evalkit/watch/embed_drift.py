"""Embedding drift: has what users ask (or what models answer) moved to other topics?

Two measures on sentence embeddings of a reference and a current sample:

- the cosine distance between the two mean embeddings, cheap and easy to chart;
- a domain classifier's AUC: a linear discriminant, cross-validated in five folds, asked to
  tell current texts from reference ones. 0.5 means the windows are indistinguishable; a new
  topic that is a share ``s`` of the current texts can lift it to about ``0.5 + s/2``. Fisher's
  discriminant on whitened principal components rather than a logistic regression because its
  only label-dependent parts are two means: the permutation null reuses one decomposition, so
  hundreds of permutations cost milliseconds where refitting a classifier cost minutes.

Neither has a universal threshold (it depends on the sample sizes and how varied the texts
are), so each is compared with its own **permutation null**: the window labels are shuffled
``permutations`` times and the measure recomputed. Drift is declared when the observed value
exceeds the null's ``1 − alpha`` quantile (``p_value`` is the permutation p-value) **and** the
AUC is at least ``min_auc``, so a statistically detectable but negligible shift on a huge
sample does not fire. Embedding is the costly step (~90 texts/s on two cores), so callers pass
a bounded sample and cache embeddings (``EmbeddingCache``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class EmbeddingDrift:
    """The measures, their permutation thresholds and the verdict, with its reason."""

    distance: float
    distance_threshold: float
    auc: float
    auc_threshold: float
    p_value: float
    n_reference: int
    n_current: int
    drifted: bool
    reason: str


def mean_distance(reference: np.ndarray, current: np.ndarray) -> float:
    """Cosine distance between the mean embeddings of two samples."""
    a, b = reference.mean(axis=0), current.mean(axis=0)
    denom = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(1 - a @ b / denom) if denom > 0 else 0.0


def _whiten(x: np.ndarray, dims: int) -> np.ndarray:
    """Top principal components of ``x``, scaled by shrunk standard deviations.

    The covariance used is the pooled one of both windows, which does not depend on the window
    labels, so it is computed once and every permutation reuses it.
    """
    centred = x - x.mean(axis=0)
    n = len(x)
    # the n × n Gram matrix's eigenvectors are the component scores (texts are fewer than
    # dimensions here, and this is several times faster than an SVD of the data)
    eigvals, eigvecs = np.linalg.eigh(centred @ centred.T)
    keep = min(dims, n)
    top_vals = np.clip(eigvals[::-1][:keep], 0, None)
    scores = eigvecs[:, ::-1][:, :keep] * np.sqrt(top_vals)
    var = top_vals / max(n - 1, 1)
    return scores / np.sqrt(var + var.mean() + 1e-12)


def domain_auc(z: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> np.ndarray | float:
    """Cross-validated AUC of a linear discriminant telling label 1 from label 0.

    ``z`` are whitened features, ``labels`` one row of 0/1 window labels or many (one per
    permutation), ``folds`` a fold number per text. In each fold the direction is the
    difference of the training windows' means (Fisher's discriminant in whitened space) and the
    held-out texts are scored by their projection on it.
    """
    lab = np.atleast_2d(labels).astype(float)
    scores = np.zeros(lab.shape)
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        ones = lab[:, train]
        mean1 = ones @ z[train] / ones.sum(axis=1, keepdims=True)
        mean0 = (1 - ones) @ z[train] / (1 - ones).sum(axis=1, keepdims=True)
        scores[:, test] = (mean1 - mean0) @ z[test].T
    ranks = stats.rankdata(scores, axis=1)
    n1 = lab.sum(axis=1)
    n0 = lab.shape[1] - n1
    auc = ((ranks * lab).sum(axis=1) - n1 * (n1 + 1) / 2) / (n0 * n1)
    return auc if auc.size > 1 else float(auc[0])


def embedding_drift(
    reference: np.ndarray,
    current: np.ndarray,
    *,
    rng: np.random.Generator,
    permutations: int = 200,
    alpha: float = 0.05,
    min_auc: float = 0.55,
    min_n: int = 20,
    dims: int = 32,
) -> EmbeddingDrift:
    """Compare two samples of embeddings (rows) with permutation thresholds."""
    n_ref, n_cur = len(reference), len(current)
    if n_ref < min_n or n_cur < min_n:
        return EmbeddingDrift(
            float("nan"),
            float("nan"),
            float("nan"),
            float("nan"),
            float("nan"),
            n_ref,
            n_cur,
            False,
            f"too few texts to compare ({n_ref} reference, {n_cur} current; need {min_n} each)",
        )
    x = np.vstack([reference, current]).astype(np.float64)
    labels = np.r_[np.zeros(n_ref), np.ones(n_cur)]
    distance = mean_distance(reference, current)
    perms = np.array([rng.permutation(labels) for _ in range(permutations)])
    mean1 = perms @ x / perms.sum(axis=1, keepdims=True)
    mean0 = (1 - perms) @ x / (1 - perms).sum(axis=1, keepdims=True)
    cos = (
        (mean1 * mean0).sum(axis=1) / np.linalg.norm(mean1, axis=1) / np.linalg.norm(mean0, axis=1)
    )
    null_dist = 1 - cos
    z = _whiten(x, min(dims, len(x) // 10))
    folds = rng.permutation(np.arange(len(x)) % 5)
    auc = float(domain_auc(z, labels, folds))
    null_auc = np.asarray(domain_auc(z, perms, folds))
    dist_thr = float(np.quantile(null_dist, 1 - alpha))
    auc_thr = float(np.quantile(null_auc, 1 - alpha))
    p = (1 + int((null_auc >= auc).sum())) / (1 + permutations)
    drifted = auc > auc_thr and auc >= min_auc
    if drifted:
        reason = f"domain-classifier AUC {auc:.2f} > permutation threshold {auc_thr:.2f}"
    elif auc <= auc_thr:
        reason = f"AUC {auc:.2f} within what shuffled windows give (≤ {auc_thr:.2f})"
    else:
        reason = f"AUC {auc:.2f} above chance but below the minimum effect {min_auc:.2f}"
    return EmbeddingDrift(
        distance, dist_thr, auc, auc_thr, float(p), n_ref, n_cur, bool(drifted), reason
    )
