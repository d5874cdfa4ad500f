"""Suspect labels: the labels most likely wrong, by confident learning (cleanlab).

Out-of-fold probabilities come from models that never saw the label in question; cleanlab
compares them with the given labels class by class (the confident joint) and ranks the labels
whose disagreement is too strong to be the model's noise. Those go back to the review queue
(strategy ``suspect``) for adjudication, so a wrong label is fixed rather than learnt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.learn.data import LabelledSet


@dataclass(frozen=True)
class Suspect:
    response_id: str
    head: str
    label: bool
    #: out-of-fold probability that the label is positive
    probability: float
    #: cleanlab's label quality (self-confidence): lower is more suspect
    quality: float


def find_suspects(data: LabelledSet, oof: np.ndarray, *, limit: int = 50) -> list[Suspect]:
    """At most ``limit`` suspect labels of ``data`` (most suspect first) given its
    out-of-fold positive probabilities ``oof``."""
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores

    y = np.asarray(data.y, dtype=np.int64)
    if len(y) < 10 or len(set(y.tolist())) < 2:
        return []
    probs = np.column_stack([1 - oof, oof]).clip(1e-6, 1 - 1e-6)
    issues = find_label_issues(
        labels=y, pred_probs=probs, return_indices_ranked_by="self_confidence"
    )
    quality = get_label_quality_scores(y, probs)
    out = []
    for i in list(issues)[:limit]:
        example = data.examples[i]
        if example.id is None:
            continue
        out.append(
            Suspect(
                example.id,
                data.head,
                bool(y[i]),
                round(float(oof[i]), 4),
                round(float(quality[i]), 4),
            )
        )
    return out
