"""Plain-text reports of the review stage for the CLI (no terminal library: lines of text)."""

from __future__ import annotations

import math
from collections.abc import Iterator

from evalkit.review.agreement import AgreementReport
from evalkit.review.types import Reviewer
from evalkit.store import queue_views
from evalkit.store.database import Database

#: Reads every tenant: the CLI runs with the store's own access.
_OPERATOR = Reviewer(id=0, username="(cli)", role="admin", tenants=None)


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.3f}"


def render_agreement(report: AgreementReport) -> Iterator[str]:
    yield "Krippendorff's alpha per field (items with 2+ reviewers):"
    for f in report.fields:
        yield f"  {f.field:<16} alpha {_fmt(f.alpha):>6}  over {f.items} items ({f.level})"
    if report.pairs:
        yield "Cohen's kappa per reviewer pair:"
        for p in report.pairs:
            yield (
                f"  {p.field:<16} {p.reviewer_a} / {p.reviewer_b}: kappa {_fmt(p.kappa)} "
                f"over {p.items} items"
            )
    if report.reviewers:
        yield "Per reviewer:"
        for r in report.reviewers:
            yield (
                f"  {r.username:<20} {r.labels} labels, with consensus {_fmt(r.with_consensus)}, "
                f"gold accuracy {_fmt(r.gold_accuracy)} over {r.gold_answers} answers"
            )


def disputed_summary(db: Database, *, queue: str | None = None) -> Iterator[str]:
    items = queue_views.disputed(db, _OPERATOR, queue=queue, limit=1000)
    if not items:
        yield "no disputed items"
        return
    yield f"{len(items)} disputed item(s), waiting for an adjudicator:"
    for item_id, queue_name, response in items:
        yield f"  item {item_id} ({queue_name}) response {response.id}"
