"""The adjudication page's model: a disagreement side by side, and settling it.

Reviewers of an overlap item are columns (A, B, …), heads are rows, so the disagreement is
read across a line. One key settles the item with one reviewer's whole answer (``1`` takes
A's, ``2`` B's, …); an adjudicator who agrees with neither picks per head and submits. Either
way the settlement is complete: heads the reviewers agreed on keep their agreed answer, so the
adjudication is the item's final word on every head.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from evalkit import review
from evalkit.review import DisputedItem, LabelVersion, Reviewer, SubmitResult
from evalkit.review.schema import HEADS, Head
from evalkit.store.database import Database

#: Digits take a reviewer's answer: one key per column, at most nine columns.
MAX_COLUMNS = 9
SUBMIT_KEY = "Enter"
NEXT_KEY = "Escape"


@dataclass(frozen=True)
class Column:
    """One reviewer's answer to the item: ``answers`` is head → {value and the head's fields}."""

    letter: str
    annotator: str
    key: str
    answers: Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class Row:
    """One head across the reviewers: their values in column order and whether they disagree."""

    head: str
    label: str
    values: tuple[str | None, ...]
    disagree: bool


@dataclass(frozen=True)
class Dispute:
    item: DisputedItem
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


def open_disputes(
    db: Database, adjudicator: Reviewer, *, passed: Sequence[int] = ()
) -> list[DisputedItem]:
    """Disputed items the adjudicator may settle, oldest first, minus those passed over in this
    session (they come back in the next session)."""
    return [d for d in review.disputed_items(db, adjudicator) if d.item_id not in set(passed)]


def _answer(head: Head, label: LabelVersion) -> dict[str, Any]:
    answer: dict[str, Any] = {"value": label.value}
    for f in head.fields:
        value = getattr(label, f.name, None)
        if value is None:
            value = label.details.get(f.name)
        if value is not None and value != "":
            answer[f.name] = value
    return answer


def side_by_side(item: DisputedItem, heads: Sequence[Head] = HEADS) -> Dispute:
    """The item's labels as columns per reviewer and rows per head."""
    by_head = {h.name: h for h in heads}
    annotators: list[str] = []
    answers: dict[str, dict[str, dict[str, Any]]] = {}
    for label in item.labels:
        if label.head not in by_head:
            continue
        if label.annotator not in answers:
            annotators.append(label.annotator)
            answers[label.annotator] = {}
        answers[label.annotator][label.head] = _answer(by_head[label.head], label)
    columns = tuple(
        Column(chr(ord("A") + i), name, str(i + 1), answers[name])
        for i, name in enumerate(annotators[:MAX_COLUMNS])
    )
    rows = tuple(
        Row(
            h.name,
            h.label,
            tuple((c.answers.get(h.name) or {}).get("value") for c in columns),
            h.name in item.disagreeing_heads,
        )
        for h in heads
        if any(h.name in c.answers for c in columns)
    )
    return Dispute(item, columns, rows)


def settlement(dispute: Dispute, picks: Mapping[str, str], column: Column | None = None) -> dict:
    """The adjudication's labels: ``column``'s whole answer, or per head the ``picks``
    (head → value), heads the reviewers agreed on keeping their answer.

    A pick that differs from every reviewer's drops their fields (harm's category must then be
    chosen anew, which the schema enforces).
    """
    out: dict[str, dict[str, Any]] = {}
    for row in dispute.rows:
        if column is not None and row.head in column.answers:
            out[row.head] = dict(column.answers[row.head])
            continue
        value = picks.get(row.head)
        if value is None and not row.disagree:
            value = next(v for v in row.values if v is not None)
        if value is None:
            continue
        source = next(
            (
                c.answers[row.head]
                for c in dispute.columns
                if c.answers.get(row.head, {}).get("value") == value
            ),
            {"value": value},
        )
        out[row.head] = dict(source)
    return out


def options(head_name: str) -> list[str]:
    """The values an adjudicator may pick for a head, in the schema's order."""
    return [c.value for h in HEADS if h.name == head_name for c in h.choices]


def unsettled(dispute: Dispute, picks: Mapping[str, str]) -> list[str]:
    """Disagreeing heads without a pick yet, as the page names them."""
    return [r.label for r in dispute.rows if r.disagree and r.head not in picks]


def settle(
    db: Database, adjudicator: Reviewer, dispute: Dispute, labels: Mapping[str, Any]
) -> SubmitResult:
    """Store the adjudication; it becomes the item's final labels."""
    return review.adjudicate(db, adjudicator, dispute.item.item_id, labels)
