"""Label versions from the review queue, and the reads that agreement and final labels need.

A submission is one version of what a reviewer said about an item; its heads are ``labels``
rows (the table imported labels use too), so every label of a response, imported or reviewed,
has one history. Edits append: the old rows stay with ``current`` false.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from evalkit.review.types import LabelVersion, Reviewer
from evalkit.store.database import Database
from evalkit.store.mappers import aware
from evalkit.store.tables import LABELS, RESPONSES, REVIEW_ITEMS, REVIEW_SUBMISSIONS

L, S, IT = LABELS, REVIEW_SUBMISSIONS, REVIEW_ITEMS
#: Head fields with a column of their own; any other field goes into ``details``.
_COLUMNS = ("span", "category", "off_brand", "note")
#: Ordinal severities stored with a harm label (none = 0 … critical = 4).
_SEVERITY = {"none": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def write_submission(
    conn: Connection,
    item: Any,
    reviewer: Reviewer,
    submission: Any,
    *,
    kind: str,
    now: datetime,
    source: str | None = None,
    external_id: str | None = None,
) -> tuple[int, int]:
    """Append a submission version and its head labels; returns (submission id, version).
    ``source`` / ``external_id``: where a submission made outside evalkit came from."""
    previous = conn.execute(
        select(S.c.id, S.c.version).where(
            S.c.review_item_id == item.id,
            S.c.reviewer_id == reviewer.id,
            S.c.kind == kind,
            S.c.current.is_(True),
        )
    ).first()
    version = previous.version + 1 if previous is not None else 1
    if previous is not None:
        conn.execute(update(S).where(S.c.id == previous.id).values(current=False))
    sub_id = conn.execute(
        insert(S)
        .values(
            review_item_id=item.id,
            response_id=item.response_id,
            reviewer_id=reviewer.id,
            kind=kind,
            version=version,
            supersedes_id=previous.id if previous is not None else None,
            current=True,
            correction=submission.correction,
            note=submission.note,
            seconds=submission.seconds,
            created_at=now,
            source=source,
            external_id=external_id,
        )
        .returning(S.c.id)
    ).scalar_one()
    for head, answer in submission.labels.items():
        # One current label per (response, head, annotator), as imports keep it: the
        # reviewer's newest answer supersedes their last one, whichever item it came from.
        old = conn.execute(
            select(L.c.id).where(
                L.c.response_id == item.response_id,
                L.c.head == head,
                L.c.annotator == reviewer.username,
                L.c.source_kind == kind,
                L.c.current.is_(True),
            )
        ).scalar_one_or_none()
        if old is not None:
            conn.execute(update(L).where(L.c.id == old).values(current=False))
        fields = dict(answer.fields)
        conn.execute(
            insert(L).values(
                response_id=item.response_id,
                head=head,
                value=answer.value,
                severity=_SEVERITY.get(answer.value) if head == "harm" else None,
                annotator=reviewer.username,
                source_kind=kind,
                created_at=now,
                supersedes_id=old,
                current=True,
                submission_id=sub_id,
                reviewer_id=reviewer.id,
                details={k: v for k, v in fields.items() if k not in _COLUMNS} or None,
                **{k: fields.get(k) for k in _COLUMNS},
            )
        )
    return sub_id, version


def _version(m: Any) -> LabelVersion:
    return LabelVersion(
        label_id=m["id"],
        response_id=m["response_id"],
        head=m["head"],
        value=m["value"],
        annotator=m["annotator"],
        source_kind=m["source_kind"],
        created_at=aware(m["created_at"]),  # type: ignore[arg-type]
        current=bool(m["current"]),
        reviewer_id=m["reviewer_id"],
        submission_id=m["submission_id"],
        item_id=m.get("item_id"),
        severity=m["severity"],
        span=m["span"],
        category=m["category"],
        off_brand=m["off_brand"],
        note=m["note"],
        details=m["details"] or {},
    )


def _with_item() -> Any:
    return select(L, S.c.review_item_id.label("item_id")).outerjoin(S, S.c.id == L.c.submission_id)


def item_labels(
    conn: Connection, item_id: int, *, kinds: Sequence[str] = ("review",)
) -> list[LabelVersion]:
    """Current labels of one item's current submissions of ``kinds``."""
    stmt = _with_item().where(
        S.c.review_item_id == item_id, S.c.current.is_(True), S.c.kind.in_(kinds)
    )
    return [_version(row._mapping) for row in conn.execute(stmt.order_by(L.c.id))]


def labels_of_items(
    db: Database, item_ids: Sequence[int], *, kinds: Sequence[str]
) -> list[LabelVersion]:
    with db.reader() as conn:
        out: list[LabelVersion] = []
        for start in range(0, len(item_ids), 500):
            stmt = _with_item().where(
                S.c.review_item_id.in_(item_ids[start : start + 500]),
                S.c.current.is_(True),
                S.c.kind.in_(kinds),
            )
            out.extend(_version(row._mapping) for row in conn.execute(stmt.order_by(L.c.id)))
        return out


def current_labels(
    db: Database,
    heads: Sequence[str],
    *,
    kinds: Sequence[str],
    tenant: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    queue: str | None = None,
) -> list[LabelVersion]:
    """Current labels of ``heads`` from sources ``kinds``, filtered on the response's tenant
    and ``created_at`` (``since`` inclusive, ``until`` exclusive), oldest first."""
    stmt = (
        _with_item()
        .join(RESPONSES, RESPONSES.c.id == L.c.response_id)
        .where(L.c.current.is_(True), L.c.head.in_(heads), L.c.source_kind.in_(kinds))
    )
    if tenant is not None:
        stmt = stmt.where(RESPONSES.c.tenant == tenant)
    if since is not None:
        stmt = stmt.where(RESPONSES.c.created_at >= since)
    if until is not None:
        stmt = stmt.where(RESPONSES.c.created_at < until)
    if queue is not None:
        stmt = stmt.join(IT, IT.c.id == S.c.review_item_id).where(IT.c.queue == queue)
    with db.reader() as conn:
        return [_version(row._mapping) for row in conn.execute(stmt.order_by(L.c.id))]


def open_overlap(db: Database, response_ids: Sequence[str]) -> dict[str, int]:
    """For responses with review labels: the most reviews any of their started non-gold
    items needs that it does not have yet (0 when every item is complete).

    Only an item with at least one review counts: its reviews are among the labels and must
    not pass for a single review while its others are missing. An item nobody has reviewed
    yet adds no label, so the decision the response already has stands meanwhile: a response
    sent back for a second look (learn's suspect labels, a guard flag) keeps its final label
    until the new review or adjudication replaces it, rather than dropping out of training
    and out of watch's rates (which would bias both, suspects being mostly positives)."""
    out: dict[str, int] = {}
    with db.reader() as conn:
        for start in range(0, len(response_ids), 500):
            rows = conn.execute(
                select(
                    IT.c.response_id, IT.c.required_reviews, IT.c.reviews_done, IT.c.status
                ).where(
                    IT.c.response_id.in_(response_ids[start : start + 500]), IT.c.strategy != "gold"
                )
            )
            for row in rows:
                started = row.status == "pending" and row.reviews_done > 0
                missing = row.required_reviews - row.reviews_done if started else 0
                out[row.response_id] = max(out.get(row.response_id, 0), max(missing, 0))
    return out


def gold_answers(db: Database, queue: str | None = None) -> dict[int, tuple[str, dict[str, str]]]:
    """Gold items: item id → (response id, expected answer per head)."""
    stmt = select(IT.c.id, IT.c.response_id, IT.c.gold).where(IT.c.strategy == "gold")
    if queue is not None:
        stmt = stmt.where(IT.c.queue == queue)
    with db.reader() as conn:
        return {row.id: (row.response_id, dict(row.gold or {})) for row in conn.execute(stmt)}


def submission_history(db: Database, item_id: int) -> list[dict[str, Any]]:
    """Every submission version of an item (the audit trail), oldest first."""
    with db.reader() as conn:
        rows = conn.execute(
            select(S).where(S.c.review_item_id == item_id).order_by(S.c.id)
        ).mappings()
        return [dict(row) | {"created_at": aware(row["created_at"])} for row in rows]
