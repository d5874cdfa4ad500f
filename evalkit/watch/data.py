"""The facts watch computes on, loaded once per run: traffic, the labelled sample, the guard.

``WatchData.sample(head)`` is the probability sample of one head: the responses reviewed
through a probability stream, with their final label's binary view as ``y`` (NaN when
undecided) and the item's inclusion probability and stratum. Responses labelled only through a
targeted stream, or only by an imported dataset without a review item, are not in it: they say
nothing about the traffic's rate (``evalkit.watch.estimate``).

``load(..., refusals=True)`` adds ``refused`` to the traffic: whether the response declines the
request, by ``evalkit.refusals`` (the definition the gate's ``refusal`` / ``no_refusal``
assertions and the classifier's signal use too), so "a refusal" means the same in a golden
suite and in production. Texts are read only then, a chunk at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

import numpy as np
import pandas as pd

from evalkit.refusals import is_refusal
from evalkit.store import watch as store
from evalkit.store.database import Database
from evalkit.watch.estimate import PROBABILITY_STRATEGIES

HEADS = ("hallucination", "harm", "impolite")
DIMENSIONS = ("model_id", "model_version", "prompt_version", "intent", "tenant", "user_segment")
SUCCESS = ("converted", "resolved")
#: Responses a run reads per look-back window at most (every reviewed one comes on top).
LOAD_CAP = 200_000


@dataclass
class WatchData:
    """Traffic (one row per response) and, per head, the final labels of reviewed responses.

    Above the load cap ``traffic`` is a uniform sample of the window's responses, each kept
    with probability ``fraction`` (shares, quantiles and means stay unbiased; counts of
    responses are divided by it, see ``evalkit.watch.kpis``), and ``reviewed`` holds every
    reviewed response of the window, so no human label is lost; ``note`` says so.
    """

    traffic: pd.DataFrame
    design: pd.DataFrame
    labels: dict[str, pd.DataFrame]
    guard: pd.DataFrame
    seconds: pd.DataFrame
    releases: pd.DataFrame
    reviewed: pd.DataFrame | None = None  # None: traffic is every response of the window
    fraction: float = 1.0
    note: str = ""
    maxima: pd.DataFrame | None = None  # only for a sampled window
    _samples: dict[str, pd.DataFrame] = field(default_factory=dict)

    def sample(self, head: str) -> pd.DataFrame:
        """Traffic rows of the probability sample of ``head`` with ``y``, π and stratum."""
        if head not in self._samples:
            design = self.design.loc[self.design["strategy"].isin(PROBABILITY_STRATEGIES)]
            design = design.loc[design["inclusion_probability"].between(0, 1, inclusive="right")]
            # one design row per response: the first probability item that chose it
            design = design.drop_duplicates("response_id")
            labels = self.labels.get(head, pd.DataFrame(columns=["response_id", "y"]))
            base = self.traffic if self.reviewed is None else self.reviewed
            frame = base.merge(design, left_on="id", right_on="response_id")
            frame = frame.merge(labels, on="response_id", how="inner")
            self._samples[head] = frame
        return self._samples[head]

    def window(self, since: datetime, until: datetime) -> WatchData:
        """The same data restricted to responses created in ``[since, until)``."""

        def inside(frame: pd.DataFrame) -> pd.DataFrame:
            return frame.loc[(frame["created_at"] >= since) & (frame["created_at"] < until)]

        reviewed = None if self.reviewed is None else inside(self.reviewed)
        # the maxima are the loaded window's, not this narrower one's
        return replace(
            self, traffic=inside(self.traffic), reviewed=reviewed, maxima=None, _samples={}
        )

    def with_traffic(self, traffic: pd.DataFrame) -> WatchData:
        """The same data with ``traffic`` (e.g. a derived column) in place of the traffic."""
        return replace(self, traffic=traffic, _samples={})


def load(
    db: Database,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    refusals: bool = False,
    cap: int | None = None,
    seed: int = 0,
) -> WatchData:
    """Everything a watch run needs for responses created in ``[since, until)``; with
    ``refusals``, each response's ``refused`` flag (which reads the response texts).

    With ``cap``, a window holding more responses than that is read as a seeded uniform sample
    of about ``cap`` of them (a slice of the content-hash space the database selects, so the
    rows left out are never read), plus every reviewed response; ``WatchData.note`` says so.
    """
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
    part, note, fraction = None, "", 1.0
    if cap is not None:
        total = store.count_responses(db, since=since, until=until)
        if total > cap:
            fraction = cap / total
            start = float(np.random.default_rng(seed).random())
            part = (fraction, start)
    traffic = store.traffic(db, since=since, until=until, part=part)
    reviewed = store.traffic(db, since=since, until=until, reviewed=True) if part else None
    if part is not None:
        note = (
            f"{total:,} responses from {_when(since)} to {_when(until)}, above the cap of "
            f"{cap:,}: read a seeded {fraction:.1%} sample ({len(traffic):,}) and every "
            f"reviewed response ({len(reviewed) if reviewed is not None else 0:,}); response "
            f"counts are scaled up by {1 / fraction:.3g}"
        )
    guard = store.guard_scores(db, since=since, until=until, part=part)
    traffic, reviewed = (
        None if frame is None else _with_guard(frame, guard) for frame in (traffic, reviewed)
    )
    assert traffic is not None
    if refusals:
        for frame in (traffic, reviewed):
            if frame is not None:
                flags = store.response_flags(db, frame["id"].tolist(), is_refusal)
                frame["refused"] = frame["id"].map(flags).astype(float)
    return WatchData(
        traffic=traffic,
        design=store.review_design(db, since=since, until=until),
        labels=labels,
        guard=guard,
        seconds=store.review_seconds(db, since=since, until=until),
        releases=store.gate_runs(db),
        reviewed=reviewed,
        fraction=fraction,
        note=note,
        maxima=None if part is None else store.usage_maxima(db, since=since, until=until),
    )


def _with_guard(traffic: pd.DataFrame, guard: pd.DataFrame) -> pd.DataFrame:
    if guard.empty:
        return traffic.assign(decision=pd.Series(dtype=object, index=traffic.index))
    merged = traffic.merge(guard, left_on="id", right_on="response_id", how="left")
    return merged.drop(columns="response_id")


def _when(at: datetime | None) -> str:
    return "the start" if at is None else f"{at:%Y-%m-%d %H:%M}"
