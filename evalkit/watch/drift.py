"""Feature drift between a reference window and a current one: PSI, with KS or chi-square.

PSI (population stability index) is ``Σ (c_i − r_i) · ln(c_i / r_i)`` over bins of the
reference distribution: shares ``r`` in the reference, ``c`` now. The usual reading, used as
the default condition: below 0.1 stable, 0.1–0.2 a moderate shift, above 0.2 a shift to act on.
Numeric features are binned at the reference's deciles (so each reference bin holds ~10%);
categorical ones use their categories, with categories new in the current window as bins of
their own. An empty bin gets ``EPS`` share rather than an infinite term.

PSI says how big a shift is; the test (two-sample KS for numbers, chi-square of the
contingency table for categories) says whether a sample that size could show it by chance.
Windows are capped at ``max_rows`` by a seeded random sample, so the cost is flat however much
traffic there is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

EPS = 1e-4
PSI_YELLOW, PSI_RED = 0.1, 0.2


@dataclass(frozen=True)
class DriftResult:
    """One feature's drift: its PSI, the test and what the default condition concludes."""

    feature: str
    kind: str  # numeric | categorical
    psi: float
    statistic: float
    p_value: float
    test: str  # ks | chi2
    n_reference: int
    n_current: int

    @property
    def state(self) -> str:
        return "red" if self.psi > PSI_RED else "yellow" if self.psi > PSI_YELLOW else "green"

    @property
    def reason(self) -> str:
        return (
            f"PSI {self.psi:.3f} ({self.state}: > {PSI_RED} acts, > {PSI_YELLOW} watches); "
            f"{self.test} p={self.p_value:.3g} on {self.n_reference} vs {self.n_current}"
        )


def psi_from_shares(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of two aligned share vectors (each summing to 1)."""
    r = np.clip(np.asarray(reference, float), EPS, None)
    c = np.clip(np.asarray(current, float), EPS, None)
    return float(np.sum((c - r) * np.log(c / r)))


def numeric_bins(reference: np.ndarray, bins: int = 10) -> np.ndarray:
    """Inner bin edges at the reference's quantiles (duplicates from ties removed)."""
    qs = np.quantile(reference, np.linspace(0, 1, bins + 1)[1:-1])
    return np.unique(qs)


def psi_numeric(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    ref = np.asarray(reference, float)
    cur = np.asarray(current, float)
    ref, cur = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
    if ref.size == 0 or cur.size == 0:
        return float("nan")
    edges = numeric_bins(ref, bins)
    # right-closed bins: a value equal to an edge (common with integer features) falls left
    r = np.bincount(np.searchsorted(edges, ref, side="left"), minlength=edges.size + 1)
    c = np.bincount(np.searchsorted(edges, cur, side="left"), minlength=edges.size + 1)
    return psi_from_shares(r / r.sum(), c / c.sum())


def _category_counts(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    ref = reference.fillna("∅").astype(str)
    cur = current.fillna("∅").astype(str)
    cats = sorted(set(ref) | set(cur))
    r = ref.value_counts().reindex(cats, fill_value=0).to_numpy()
    c = cur.value_counts().reindex(cats, fill_value=0).to_numpy()
    return r, c


def psi_categorical(reference: pd.Series, current: pd.Series) -> float:
    r, c = _category_counts(reference, current)
    if r.sum() == 0 or c.sum() == 0:
        return float("nan")
    return psi_from_shares(r / r.sum(), c / c.sum())


def feature_drift(
    feature: str, reference: pd.Series, current: pd.Series, *, kind: str | None = None
) -> DriftResult:
    """Drift of one feature; ``kind`` is inferred from the dtype when not given."""
    if kind is None:
        kind = "numeric" if pd.api.types.is_numeric_dtype(reference) else "categorical"
    if kind == "numeric":
        ref = pd.to_numeric(reference, errors="coerce").dropna().to_numpy(float)
        cur = pd.to_numeric(current, errors="coerce").dropna().to_numpy(float)
        psi = psi_numeric(ref, cur)
        if ref.size and cur.size:
            ks = stats.ks_2samp(ref, cur)
            stat, p = float(ks.statistic), float(ks.pvalue)
        else:
            stat, p = float("nan"), float("nan")
        return DriftResult(feature, kind, psi, stat, p, "ks", int(ref.size), int(cur.size))
    r, c = _category_counts(reference, current)
    psi = psi_categorical(reference, current)
    table = np.vstack([r, c])
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] > 1 and r.sum() and c.sum():
        chi = stats.chi2_contingency(table)
        stat, p = float(chi.statistic), float(chi.pvalue)
    else:
        stat, p = 0.0, 1.0
    return DriftResult(feature, kind, psi, stat, p, "chi2", int(r.sum()), int(c.sum()))


def bounded(frame: pd.DataFrame, max_rows: int, rng: np.random.Generator) -> pd.DataFrame:
    """At most ``max_rows`` rows of ``frame``, a uniform random sample when it is larger."""
    if len(frame) <= max_rows:
        return frame
    picks = np.sort(rng.choice(len(frame), size=max_rows, replace=False))
    return frame.iloc[picks]


def drift_table(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: dict[str, str],
    *,
    rng: np.random.Generator,
    max_rows: int = 5000,
) -> list[DriftResult]:
    """Drift of each feature (name → ``numeric`` | ``categorical``) between two windows."""
    ref = bounded(reference, max_rows, rng)
    cur = bounded(current, max_rows, rng)
    return [
        feature_drift(name, ref[name], cur[name], kind=kind)
        for name, kind in features.items()
        if name in ref.columns and name in cur.columns
    ]
