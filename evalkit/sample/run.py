"""One sampling run: read the population, apply a design, queue the selection.

The design is pure (``sample.strategies``); this module reads what it needs from the store,
checks the request (unknown stratum field, empty window, quota above the population: a clear
error and nothing queued) and hands the selection to ``sample.enqueue``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from evalkit.errors import UsageError
from evalkit.review.types import EnqueueResult, NewItem
from evalkit.sample import strategies
from evalkit.sample.enqueue import DEFAULT_QUEUE, enqueue_selection
from evalkit.store import sampling as store
from evalkit.store.database import Database

STRATEGIES = ("random", "stratified", "risk", "uncertainty")
NO_CLASSIFIER = (
    "{strategy} sampling needs risk scores from a trained classifier, and none is active yet: "
    "train one with `evalkit train` (then it is the active row of classifier_versions), or "
    "sample with --strategy random or stratified meanwhile"
)


@dataclass(frozen=True)
class SampleRequest:
    strategy: str
    n: int
    queue: str = DEFAULT_QUEUE
    by: tuple[str, ...] = ()
    allocation: str = "proportional"
    quotas: Mapping[str, int] = field(default_factory=dict)
    seed: int = 0
    since: datetime | None = None
    until: datetime | None = None
    tenant: str | None = None
    model_id: str | None = None
    intent: str | None = None
    threshold: float = 0.5
    #: Neyman allocation's spread per stratum (estimated by the caller, e.g. from labels)
    sd: Mapping[str, float] | None = None
    #: only these responses form the population (e.g. one demo run's, whose truth is known)
    among: frozenset[str] | None = None


@dataclass(frozen=True)
class SampleReport:
    strategy: str
    queue: str
    population: int
    selected: int
    added: int
    already: int
    #: stratum → (population N_h, drawn n_h)
    strata: dict[str, tuple[int, int]]
    overlap_items: int


def check_fields(fields: Sequence[str]) -> None:
    for f in fields:
        if f not in store.STRATUM_COLUMNS and not (f.startswith("metadata.") and len(f) > 9):
            raise UsageError(
                f"unknown stratum field {f!r}; fields: {', '.join(store.STRATUM_COLUMNS)}, "
                "or metadata.KEY"
            )


def sample(
    db: Database,
    request: SampleRequest,
    *,
    scores: Mapping[str, float] | None = None,
    overlap_share: float = 0.0,
    overlap_k: int = 2,
) -> SampleReport:
    """Draw ``request.n`` responses not yet in the queue and queue them.

    Probabilities are those of this design over the responses in the window that the queue does
    not hold yet. ``scores`` (response id → risk) is needed for ``risk`` and ``uncertainty``.
    """
    if request.strategy not in STRATEGIES:
        raise UsageError(f"strategy {request.strategy!r}: expected one of {', '.join(STRATEGIES)}")
    if request.strategy == "stratified" and not request.by:
        raise UsageError("stratified sampling needs --by FIELDS (e.g. model_id,intent)")
    check_fields(request.by)
    rows = store.population(
        db,
        fields=request.by,
        since=request.since,
        until=request.until,
        tenant=request.tenant,
        model_id=request.model_id,
        intent=request.intent,
        not_in_queue=request.queue,
    )
    if request.among is not None:
        rows = [row for row in rows if row["id"] in request.among]
    rng = np.random.default_rng(request.seed)
    ids = [row["id"] for row in rows]
    strata: dict[str, tuple[int, int]] = {}
    if request.strategy == "random":
        chosen = strategies.uniform(ids, request.n, rng)
    elif request.strategy == "stratified":
        groups: dict[str, list[str]] = {}
        for row in rows:
            groups.setdefault(strategies.stratum_key(row, request.by), []).append(row["id"])
        if not groups:
            strategies.uniform([], request.n, rng)  # the empty-window error
        sizes = {name: len(members) for name, members in groups.items()}
        counts = strategies.allocate(
            sizes, request.n, allocation=request.allocation, sd=request.sd, quotas=request.quotas
        )
        chosen = strategies.stratified(groups, counts, rng)
        strata = {name: (sizes[name], counts[name]) for name in sorted(sizes)}
    else:
        if scores is None:
            raise UsageError(NO_CLASSIFIER.format(strategy=request.strategy))
        pool = {rid: scores[rid] for rid in ids if rid in scores}
        if request.strategy == "risk":
            chosen = strategies.risk_first(pool, request.n)
        else:
            chosen = strategies.uncertainty(pool, request.n, request.threshold)
    probability = request.strategy in ("random", "stratified")
    items = [
        NewItem(s.response_id, request.strategy, s.inclusion_probability, stratum=s.stratum)
        for s in chosen
    ]
    result: EnqueueResult = enqueue_selection(
        db,
        items,
        queue=request.queue,
        # Overlap is drawn on the probability sample only: agreement measured on a random part.
        overlap_share=overlap_share if probability else 0.0,
        overlap_k=overlap_k,
        rng=rng,
    )
    return SampleReport(
        strategy=request.strategy,
        queue=request.queue,
        population=len(ids),
        selected=len(chosen),
        added=len(result.added),
        already=len(result.already),
        strata=strata,
        overlap_items=_count_overlap(db, result.added),
    )


def _count_overlap(db: Database, item_ids: Sequence[int]) -> int:
    from evalkit.store.enqueue import count_overlap

    return count_overlap(db, item_ids)


def neyman_sd(rates: Mapping[str, tuple[int, int]]) -> dict[str, float]:
    """Spread per stratum from (positives, labelled) counts, smoothed (Laplace) so a stratum
    with no labels yet gets sd 0.5 rather than 0."""
    out = {}
    for name, (pos, total) in rates.items():
        p = (pos + 1) / (total + 2)
        out[name] = math.sqrt(p * (1 - p))
    return out
