"""The final label of a response for a head: the one answer training and estimates read.

Precedence: an adjudication; else the reviewers of the queue (one: ``single``; several: their
``consensus``, or an unresolved disagreement with ``value`` and ``positive`` None); else an
imported dataset's label. A response whose overlap item still waits for reviews has no final
label from the queue yet (it is left out unless an import gives one), so a half-reviewed
overlap item never passes for a single review. A response queued again for a second look keeps
its decision until the new review lands (``store.labels.open_overlap``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from evalkit.errors import UsageError
from evalkit.review.consensus import FINAL_HEADS, majority, positive
from evalkit.review.types import FinalLabel, LabelVersion
from evalkit.store import labels as label_store
from evalkit.store.database import Database

REVIEWED = ("review", "adjudication")
#: Imported heads read for each final head, preferred first (tone is a three-way import).
IMPORTED = {
    "hallucination": ("hallucination",),
    "harm": ("harm",),
    "impolite": ("impolite", "tone"),
}
#: ``source_kind`` of imported labels (``labels import``; ``human`` is the default for others).
IMPORT_KINDS = ("import", "human", "model")


def final_labels(
    db: Database,
    head: str,
    *,
    tenant: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[FinalLabel]:
    """Final labels of ``head`` (``hallucination`` | ``harm`` | ``impolite``), one per
    response that has one, ordered by response id; filters apply to the response's tenant and
    ``created_at`` (``since`` inclusive, ``until`` exclusive)."""
    if head not in FINAL_HEADS:
        raise UsageError(f"unknown final-label head {head!r}; heads: {', '.join(FINAL_HEADS)}")
    window: dict[str, Any] = {"tenant": tenant, "since": since, "until": until}
    reviewed = label_store.current_labels(db, [FINAL_HEADS[head]], kinds=REVIEWED, **window)
    imported = label_store.current_labels(db, IMPORTED[head], kinds=IMPORT_KINDS, **window)
    by_response: dict[str, list[LabelVersion]] = {}
    for label in reviewed:
        by_response.setdefault(label.response_id, []).append(label)
    waiting = label_store.open_overlap(db, sorted(by_response))
    out: dict[str, FinalLabel] = {}
    for rid, labels in by_response.items():
        decided = _from_review(head, rid, labels, waiting.get(rid, 0))
        if decided is not None:
            out[rid] = decided
    for rid, final in _from_imports(head, imported).items():
        out.setdefault(rid, final)
    return [out[rid] for rid in sorted(out)]


def _from_review(
    head: str, rid: str, labels: Sequence[LabelVersion], waiting: int
) -> FinalLabel | None:
    adjudications = [lab for lab in labels if lab.source_kind == "adjudication"]
    reviews = [lab for lab in labels if lab.source_kind == "review"]
    reviewers = len({lab.annotator for lab in reviews})
    if adjudications:
        last = max(adjudications, key=lambda lab: (lab.created_at, lab.label_id))
        return FinalLabel(
            rid,
            head,
            last.value,
            positive(head, last.value),
            "adjudicated",
            reviewers,
            last.created_at,
        )
    if not reviews or waiting > 0:
        return None
    decided_at = max(lab.created_at for lab in reviews)
    if reviewers == 1:
        value: str | None = reviews[-1].value
        return FinalLabel(rid, head, value, positive(head, value), "single", 1, decided_at)
    value = majority([lab.value for lab in reviews])
    return FinalLabel(rid, head, value, positive(head, value), "consensus", reviewers, decided_at)


def _from_imports(head: str, labels: Sequence[LabelVersion]) -> dict[str, FinalLabel]:
    preference = {name: rank for rank, name in enumerate(IMPORTED[head])}
    best: dict[str, LabelVersion] = {}
    for label in labels:  # oldest first: a later label of the same preference wins
        held = best.get(label.response_id)
        if held is None or preference[label.head] <= preference[held.head]:
            best[label.response_id] = label
    return {
        rid: FinalLabel(
            rid, head, lab.value, positive(head, lab.value), "imported", 0, lab.created_at
        )
        for rid, lab in best.items()
    }
