"""What the CLI looks up for score-driven and Neyman sampling: the active classifier's risk
scores, and each stratum's spread from the final labels so far.

The designs themselves (``sample.strategies``) take these as plain mappings, so the sampling
core does not depend on the guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from evalkit.errors import UsageError
from evalkit.sample import strategies
from evalkit.sample.run import NO_CLASSIFIER, SampleRequest, neyman_sd
from evalkit.store import sampling as store
from evalkit.store.database import Database


def active_scores(
    db: Database, head: str, request: SampleRequest
) -> tuple[dict[str, float], float]:
    """Risk score of ``head`` for every response of the request's window, from the active
    classifier through ``evalkit.guard.Guard``; and that head's decision threshold."""
    if store.active_classifier(db) is None:
        raise UsageError(NO_CLASSIFIER.format(strategy=request.strategy))
    rows = store.population(
        db,
        since=request.since,
        until=request.until,
        tenant=request.tenant,
        model_id=request.model_id,
        intent=request.intent,
        not_in_queue=request.queue,
    )
    return score_responses(db, [row["id"] for row in rows], head, strategy=request.strategy)


def score_responses(
    db: Database, ids: Sequence[str], head: str, *, strategy: str = "risk"
) -> tuple[dict[str, float], float]:
    """``head``'s score for each of ``ids`` under the active classifier, and the head's review
    threshold: the scorer of the policy's targeted rules."""
    active = store.active_classifier(db)
    if active is None:
        raise UsageError(NO_CLASSIFIER.format(strategy=strategy))
    try:
        from evalkit.guard import Guard
    except ImportError as exc:
        raise UsageError(f"the guard stage is not available to score responses: {exc}") from None
    records = store.responses_by_ids(db, list(ids))
    guard = Guard.load(active["artifact_path"])
    verdicts = guard.check_many(records) if records else []
    scores: dict[str, float] = {}
    for record, verdict in zip(records, verdicts, strict=True):
        if head not in verdict.scores:
            raise UsageError(
                f"classifier {active['version']} has no head {head!r}; "
                f"heads: {', '.join(sorted(verdict.scores))}"
            )
        scores[record.id] = float(verdict.scores[head])
    return scores, _threshold(active.get("thresholds"), head)


def _threshold(thresholds: Any, head: str) -> float:
    value = thresholds.get(head) if isinstance(thresholds, dict) else None
    if isinstance(value, dict):  # {"review": 0.4, "block": 0.8}: the review threshold
        value = value.get("review")
    return float(value) if isinstance(value, int | float) else 0.5


def neyman_spread(db: Database, head: str, fields: Sequence[str]) -> dict[str, float]:
    """sd per stratum of ``head``'s positive rate among final labels so far (smoothed)."""
    from evalkit.review.final import final_labels

    rows = store.population(db, fields=fields)
    stratum = {row["id"]: strategies.stratum_key(row, fields) for row in rows}
    counts: dict[str, tuple[int, int]] = {name: (0, 0) for name in set(stratum.values())}
    for label in final_labels(db, head):
        name = stratum.get(label.response_id)
        if name is None or label.positive is None:
            continue
        pos, total = counts[name]
        counts[name] = (pos + int(label.positive), total + 1)
    return neyman_sd(counts)
