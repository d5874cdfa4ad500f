"""Builders for review tests: responses in a real store, reviewers, queued items."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from evalkit.records import LabelHead, LabelRecord, ResponseRecord
from evalkit.review import accounts
from evalkit.review.types import NewItem, Reviewer
from evalkit.store import enqueue as store_queue
from evalkit.store.database import Database

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def add_responses(db: Database, n: int, *, tenants: Sequence[str | None] = ("acme",)) -> list[str]:
    records = [
        ResponseRecord(
            id=f"r-{i:04d}",
            received_at=T0,
            created_at=T0 + timedelta(hours=i),
            response=f"Answer {i}",
            prompt=f"Question {i}?",
            tenant=tenants[i % len(tenants)],
            model_id=["atlas-xl", "swift-mini"][i % 2],
            intent=["refund", "shipping", "billing"][i % 3],
            content_hash=f"h{i}",
        )
        for i in range(n)
    ]
    with db.writer() as w:
        w.add_responses(records)
    return [r.id for r in records]


def import_label(db: Database, rid: str, head: str, value: bool | str, source: str = "ds") -> None:
    with db.writer() as w:
        w.add_labels(
            [
                LabelRecord(
                    response_id=rid,
                    head=LabelHead(head),
                    value=value,
                    annotator=source,
                    created_at=T0,
                    source_kind="import",
                )
            ]
        )


def queue_items(
    db: Database, rids: Sequence[str], *, k: int = 1, queue: str = "default", **kw
) -> list[int]:
    items = [NewItem(rid, "random", 0.1, required_reviews=k, **kw) for rid in rids]
    return list(store_queue.insert_items(db, queue, items, T0).added)


@pytest.fixture
def reviewers(db: Database) -> dict[str, Reviewer]:
    return {
        "ann": accounts.add_reviewer(db, "ann"),
        "bob": accounts.add_reviewer(db, "bob"),
        "cy": accounts.add_reviewer(db, "cy"),
        "judge": accounts.add_reviewer(db, "judge", role="adjudicator"),
    }
