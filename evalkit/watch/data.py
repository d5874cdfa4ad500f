"""The facts watch computes on, loaded once per run: traffic, the labelled sample, the guard.

``WatchData.sample(head)`` is the probability sample of one head: the responses reviewed
through a probability stream, with their final label's binary view as ``y`` (NaN when
undecided) and the item's inclusion probability and stratum. Responses labelled only through a
targeted stream, or only by an imported dataset without a review item, are not in it: they say
nothing about the traffic's rate (``evalkit.watch.estimate``).

``load(..., refusals=True)`` adds ``refused`` to the traffic: whether the response declines the
request, by the gate's refusal markers (``evalkit.gate.assertions.text.REFUSAL``, the patterns
of its ``refusal`` / ``no_refusal`` assertions), so "a refusal" means the same in a golden
suite and in production. Texts are read only then, a chunk at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from evalkit.gate.assertions.text import REFUSAL
from evalkit.store import watch as store
from evalkit.store.database import Database
from evalkit.watch.estimate import PROBABILITY_STRATEGIES

HEADS = ("hallucination", "harm", "impolite")
DIMENSIONS = ("model_id", "model_version", "prompt_version", "intent", "tenant", "user_segment")
SUCCESS = ("converted", "resolved")


def is_refusal(text: str) -> bool:
    """Whether a response declines the request (the gate's ``refusal`` assertion's test)."""
    # the assertion normalises typographic apostrophes the same way before matching
    return REFUSAL.search(text.replace("\u2019", "'")) is not None


@dataclass
class WatchData:
    """Traffic (one row per response) and, per head, the final labels of reviewed responses."""

    traffic: pd.DataFrame
    design: pd.DataFrame
    labels: dict[str, pd.DataFrame]
    guard: pd.DataFrame
    seconds: pd.DataFrame
    releases: pd.DataFrame
    _samples: dict[str, pd.DataFrame] = field(default_factory=dict)

    def sample(self, head: str) -> pd.DataFrame:
        """Traffic rows of the probability sample of ``head`` with ``y``, π and stratum."""
        if head not in self._samples:
            design = self.design.loc[self.design["strategy"].isin(PROBABILITY_STRATEGIES)]
            design = design.loc[design["inclusion_probability"].between(0, 1, inclusive="right")]
            # one design row per response: the first probability item that chose it
            design = design.drop_duplicates("response_id")
            labels = self.labels.get(head, pd.DataFrame(columns=["response_id", "y"]))
            frame = self.traffic.merge(design, left_on="id", right_on="response_id")
            frame = frame.merge(labels, on="response_id", how="inner")
            self._samples[head] = frame
        return self._samples[head]

    def window(self, since: datetime, until: datetime) -> WatchData:
        """The same data restricted to responses created in ``[since, until)``."""
        keep = (self.traffic["created_at"] >= since) & (self.traffic["created_at"] < until)
        return WatchData(
            self.traffic.loc[keep],
            self.design,
            self.labels,
            self.guard,
            self.seconds,
            self.releases,
        )


def load(
    db: Database,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    refusals: bool = False,
):
    """Everything a watch run needs for responses created in ``[since, until)``; with
    ``refusals``, each response's ``refused`` flag (which reads the response texts)."""
    from evalkit.review import final_labels

    labels = {}
    for head in HEADS:
        rows = final_labels(db, head, since=since, until=until)
        labels[head] = pd.DataFrame(
            {
                "response_id": [r.response_id for r in rows],
                "y": [np.nan if r.positive is None else float(r.positive) for r in rows],
                "label_source": [r.source for r in rows],
            },
            columns=["response_id", "y", "label_source"],
        )
    traffic = store.traffic(db, since=since, until=until)
    guard = store.guard_scores(db)
    if not guard.empty:
        traffic = traffic.merge(guard, left_on="id", right_on="response_id", how="left")
        traffic = traffic.drop(columns="response_id")
    else:
        traffic["decision"] = pd.Series(dtype=object)
    if refusals:
        flags = store.response_flags(db, traffic["id"].tolist(), is_refusal)
        traffic["refused"] = traffic["id"].map(flags).astype(float)
    return WatchData(
        traffic=traffic,
        design=store.review_design(db),
        labels=labels,
        guard=guard,
        seconds=store.review_seconds(db),
        releases=store.gate_runs(db),
    )
