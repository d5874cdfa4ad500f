"""Active learning: which unlabelled responses a label would teach the classifier most about.

Uncertainty sampling ranks by closeness of the calibrated probability to the decision point
(``threshold``, default the head's review threshold or 0.5): the model learns most from the
cases it cannot call. ``benchmarks/active_learning.py`` measures how many labels it saves
against random sampling on the shared datasets.
"""

from __future__ import annotations

import numpy as np


def uncertainty_order(
    scores: np.ndarray, *, threshold: float = 0.5, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Indices of ``scores`` from most to least uncertain (ties broken by ``rng``)."""
    scores = np.asarray(scores, dtype=np.float64)
    distance = np.abs(scores - threshold)
    tiebreak = (rng or np.random.default_rng(0)).random(len(scores))
    return np.lexsort((tiebreak, distance))
