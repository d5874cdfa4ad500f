"""The few statistics the gate and judge alignment need, exact and dependency-free.

scipy has all of these, but importing ``scipy.stats`` takes 1.5–2 s on a busy 2-core machine,
most of a gate's 3-second budget; these closed forms are a few lines each. The tests check them
against ``scipy.stats`` (``binomtest``, ``contingency``) and published values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def mcnemar_exact(regressed: int, fixed: int) -> float:
    """Two-sided exact McNemar p-value for paired pass/fail flips.

    ``regressed``: cases the baseline passed and the candidate fails (b); ``fixed``: the other
    way (c). Under "no change", each flip is a fair coin, so the p-value is the two-sided
    binomial tail ``min(1, 2 · P(X ≤ min(b, c)))`` with ``X ~ Binomial(b + c, 1/2)``; cases that
    pass (or fail) in both say nothing about a change and do not enter. No flips: p = 1.
    """
    if regressed < 0 or fixed < 0:
        raise ValueError("flip counts cannot be negative")
    n = regressed + fixed
    if n == 0:
        return 1.0
    k = min(regressed, fixed)
    tail = sum(math.comb(n, i) for i in range(k + 1))
    # Exact integer arithmetic, then one division: no underflow for large n.
    return min(1.0, 2 * tail / 2**n)


def wilson_interval(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (well-behaved at 0, 1 and small ``n``)."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass(frozen=True)
class Confusion:
    """Judge (predicted) against humans (actual), positive = "this is a failure"."""

    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def accuracy(self) -> float | None:
        return (self.tp + self.tn) / self.n if self.n else None

    def kappa(self) -> float | None:
        """Cohen's kappa: agreement beyond what two raters with these marginals reach by chance.

        ``None`` when chance agreement is already perfect (every item in one class for both)."""
        n = self.n
        if n == 0:
            return None
        observed = (self.tp + self.tn) / n
        pred_pos, act_pos = (self.tp + self.fp) / n, (self.tp + self.fn) / n
        expected = pred_pos * act_pos + (1 - pred_pos) * (1 - act_pos)
        if expected >= 1.0:
            return None
        return (observed - expected) / (1 - expected)


def kappa_interval(c: Confusion, z: float = 1.959963984540054) -> tuple[float, float] | None:
    """Approximate 95% interval of Cohen's kappa (Fleiss, Cohen & Everitt 1969 large-sample
    standard error). Wide on small samples, as it should be."""
    kappa = c.kappa()
    if kappa is None:
        return None
    n = c.n
    p = [[c.tp / n, c.fn / n], [c.fp / n, c.tn / n]]  # rows: judge, columns: humans
    rows = [p[0][0] + p[0][1], p[1][0] + p[1][1]]
    cols = [p[0][0] + p[1][0], p[0][1] + p[1][1]]
    pe = rows[0] * cols[0] + rows[1] * cols[1]
    if pe >= 1.0:
        return None
    diag = sum(p[i][i] * (1 - (rows[i] + cols[i]) * (1 - kappa)) ** 2 for i in range(2))
    off = (1 - kappa) ** 2 * sum(
        p[i][j] * (cols[i] + rows[j]) ** 2 for i in range(2) for j in range(2) if i != j
    )
    corr = (kappa - pe * (1 - kappa)) ** 2
    variance = max(0.0, (diag + off - corr) / (n * (1 - pe) ** 2))
    se = math.sqrt(variance)
    return (max(-1.0, kappa - z * se), min(1.0, kappa + z * se))
