"""Where training labels come from: the store's final labels (``evalkit.review.final_labels``).

Single reviews, consensus, adjudications and imported datasets all arrive through that one
function; a response without a decision (``positive`` is None) is left out. Records are grouped
by their ``group`` metadata when present, else by prompt, so a held-out split never sees a
prompt it trained on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from evalkit.learn.data import HEADS, LabelledSet
from evalkit.learn.train import examples_of
from evalkit.store import classifiers as store
from evalkit.store.database import Database


def labelled_sets(db: Database, heads: Sequence[str] = HEADS) -> dict[str, LabelledSet]:
    """head → the final labels of ``head`` with their responses (heads without labels absent)."""
    from evalkit.review import final_labels

    out: dict[str, LabelledSet] = {}
    for head in heads:
        decided = {
            row.response_id: bool(row.positive)
            for row in final_labels(db, head)
            if row.positive is not None
        }
        if not decided:
            continue
        records = store.responses_by_id(db, sorted(decided))
        ids = [rid for rid in sorted(decided) if rid in records]
        examples = examples_of([records[rid] for rid in ids])
        groups = np.array([_group(ex.group, ex.prompt, ex.id) for ex in examples], dtype=object)
        out[head] = LabelledSet(head, examples, np.array([int(decided[i]) for i in ids]), groups)
    return out


def _group(group: object, prompt: str, rid: str | None) -> str:
    if group is not None:
        return f"g:{group}"
    if prompt.strip():
        return "p:" + hashlib.sha256(prompt.strip().encode()).hexdigest()[:16]
    return f"id:{rid}"
