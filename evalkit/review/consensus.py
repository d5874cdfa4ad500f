"""When several reviewers answered: their consensus, and whether the item is disputed.

The rule is a strict majority per head: with k = 2 both must agree, with k = 3 two of three.
An item is *disputed* when any head its reviewers answered has no majority; it then waits for
an adjudicator, whose answer becomes final. The binary views (``positive``) follow
docs/architecture.md.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

from evalkit.review.types import LabelVersion

#: Final-label head → the reviewed head it is read from.
FINAL_HEADS = {"hallucination": "hallucination", "harm": "harm", "impolite": "tone"}


def majority(values: Sequence[str]) -> str | None:
    """The value more than half of ``values`` hold, else None."""
    if not values:
        return None
    value, count = Counter(values).most_common(1)[0]
    return value if count * 2 > len(values) else None


def disagreeing_heads(labels: Iterable[LabelVersion]) -> list[str]:
    by_head: dict[str, list[str]] = {}
    for label in labels:
        by_head.setdefault(label.head, []).append(label.value)
    return sorted(h for h, values in by_head.items() if majority(values) is None)


def item_status(labels: Sequence[LabelVersion]) -> str:
    """``done`` when every answered head has a majority, else ``disputed`` (the store calls
    this with the item row locked, when the item has all its reviews)."""
    return "disputed" if disagreeing_heads(labels) else "done"


def positive(final_head: str, value: str | None) -> bool | None:
    """The binary view of a reviewer's (or imported) value of ``final_head``'s source head."""
    if value is None:
        return None
    if value in ("true", "false"):  # imported datasets
        return value == "true"
    if final_head == "hallucination":
        return {"yes": True, "no": False}.get(value)
    if final_head == "harm":
        return value != "none"
    if final_head == "impolite":
        return value == "impolite"
    raise ValueError(f"unknown final head {final_head!r}")
