"""Sampling designs as pure functions: a population in, a selection with probabilities out.

Each selected response carries its inclusion probability under the design, so later stages
estimate population rates without bias (Horvitz–Thompson, Hájek): uniform n of N has n/N;
stratified has n_h/N_h in stratum h; targeted designs (risk-first, uncertainty) choose by score
and are marked as such, never weighted. Randomness comes from the caller's generator.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from evalkit.errors import UsageError

ALLOCATIONS = ("proportional", "equal", "neyman")


@dataclass(frozen=True)
class Selected:
    response_id: str
    inclusion_probability: float
    stratum: str | None = None


def uniform(ids: Sequence[str], n: int, rng: np.random.Generator) -> list[Selected]:
    """Simple random sample of ``n`` of the ``N`` ids without replacement: probability n/N."""
    _check_n(n, len(ids))
    picked = rng.choice(len(ids), size=n, replace=False)
    p = n / len(ids)
    return [Selected(ids[i], p) for i in sorted(picked)]


def stratum_key(values: Mapping[str, object], fields: Sequence[str]) -> str:
    """``model_id=atlas-xl;intent=refund`` (an absent value is shown as ``(none)``)."""
    return ";".join(f"{f}={'(none)' if values.get(f) is None else values[f]}" for f in fields)


def allocate(
    sizes: Mapping[str, int],
    n: int,
    *,
    allocation: str = "proportional",
    sd: Mapping[str, float] | None = None,
    quotas: Mapping[str, int] | None = None,
) -> dict[str, int]:
    """How many to draw from each stratum (``sizes``: stratum → N_h), summing to ``n``.

    proportional: n·N_h/N; equal: n/H; neyman: n·N_h·S_h/Σ N·S (``sd`` gives S_h; a stratum
    with no spread still gets its proportional share of nothing, so give S_h > 0). Rounding is by
    largest remainder; a stratum smaller than its share is taken whole and the rest goes to the
    others. ``quotas`` fix n_h for the strata they name (the rest share what remains).
    """
    if allocation not in ALLOCATIONS:
        raise UsageError(f"allocation {allocation!r}: expected one of {', '.join(ALLOCATIONS)}")
    quotas = dict(quotas or {})
    unknown = sorted(set(quotas) - set(sizes))
    if unknown:
        raise UsageError(
            f"quota for unknown stratum {unknown[0]!r}; strata: {', '.join(sorted(sizes))}"
        )
    for name, q in quotas.items():
        if q < 0 or q > sizes[name]:
            raise UsageError(
                f"quota {q} for stratum {name!r} is above its population of {sizes[name]}"
            )
    _check_n(n, sum(sizes.values()))
    fixed = sum(quotas.values())
    if fixed > n:
        raise UsageError(f"quotas add up to {fixed}, more than --n {n}")
    free = {s: size for s, size in sizes.items() if s not in quotas}
    out = dict(quotas)
    remaining = n - fixed
    if remaining and not free:
        raise UsageError(f"quotas cover every stratum but leave {remaining} of --n {n} unplaced")
    while remaining and free:
        if allocation == "neyman":
            if sd is None:
                raise UsageError("neyman allocation needs each stratum's spread (sd)")
            weights = {s: size * max(float(sd.get(s, 0.0)), 1e-9) for s, size in free.items()}
        elif allocation == "equal":
            weights = {s: 1.0 for s in free}
        else:
            weights = {s: float(size) for s, size in free.items()}
        share = _largest_remainder(weights, remaining)
        full = {s for s, k in share.items() if k >= free[s]}
        if not full:
            out.update(share)
            break
        for s in full:  # taken whole; the others share the rest
            out[s] = free.pop(s)
            remaining -= out[s]
    return {s: out.get(s, 0) for s in sizes}


def _largest_remainder(weights: Mapping[str, float], n: int) -> dict[str, int]:
    total = sum(weights.values())
    exact = {s: n * w / total for s, w in weights.items()}
    floor = {s: int(v) for s, v in exact.items()}
    left = n - sum(floor.values())
    order = sorted(exact, key=lambda s: (-(exact[s] - floor[s]), s))
    for s in order[:left]:
        floor[s] += 1
    return floor


def stratified(
    strata: Mapping[str, Sequence[str]],
    allocation_n: Mapping[str, int],
    rng: np.random.Generator,
) -> list[Selected]:
    """Draw ``allocation_n[h]`` ids from each stratum without replacement: probability n_h/N_h."""
    out: list[Selected] = []
    for name in sorted(strata):
        ids = strata[name]
        k = allocation_n.get(name, 0)
        if k == 0:
            continue
        picked = rng.choice(len(ids), size=k, replace=False)
        out.extend(Selected(ids[i], k / len(ids), name) for i in sorted(picked))
    return out


def risk_first(scores: Mapping[str, float], n: int) -> list[Selected]:
    """The ``n`` highest-risk responses (ties by id). Targeted: the probability is 1 (chosen with
    certainty given the scores), not a design weight."""
    _check_n(n, len(scores))
    ranked = sorted(scores, key=lambda rid: (-scores[rid], rid))[:n]
    return [Selected(rid, 1.0, "risk") for rid in ranked]


def uncertainty(scores: Mapping[str, float], n: int, threshold: float) -> list[Selected]:
    """The ``n`` responses scored closest to the decision ``threshold`` (active learning)."""
    _check_n(n, len(scores))
    ranked = sorted(scores, key=lambda rid: (abs(scores[rid] - threshold), rid))[:n]
    return [Selected(rid, 1.0, "uncertainty") for rid in ranked]


def _check_n(n: int, population: int) -> None:
    if population == 0:
        raise UsageError("no responses match: the window and filters leave an empty population")
    if n < 1:
        raise UsageError(f"--n must be at least 1 (got {n})")
    if n > population:
        raise UsageError(f"--n {n} is above the population of {population} matching responses")
