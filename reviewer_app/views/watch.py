"""View model of the Quality page: the index, its drill-down and the responses behind a light.

Computed by ``evalkit.watch`` without recording anything (no alert opened or closed, no notice
sent: that is ``evalkit watch``'s job); the page only renders what this returns.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.watch import data as watch_data
from evalkit.watch import overview
from evalkit.watch.overview import DRILL_DIMENSIONS, DRILL_METRICS, Overview
from evalkit.watch.rules import load_rules
from evalkit.watch.run import evaluate_rules, rules_path

#: Session-state keys of the Quality page: the chosen light, and the chosen drill-down value.
FOCUS = "evalkit.watch.focus"
DRILL = "evalkit.watch.drill"
#: Look-back choices of the drill-down, in days.
DRILL_WINDOWS = (7, 1, 14)
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$])")


def plain(text: str) -> str:
    """``text`` with Markdown's special characters escaped, for a widget label (Streamlit
    renders labels as Markdown; a cohort's or model's name comes from captured data)."""
    return _MARKDOWN.sub(r"\\\1", text)


@dataclass
class QualityIndex:
    view: Overview
    data: watch_data.WatchData

    @property
    def notes(self) -> list[str]:
        """Where the rules and the charts read a sample rather than every response."""
        return [*self.view.run.notes, *([f"charts: {self.data.note}"] if self.data.note else [])]

    @property
    def red(self) -> pd.DataFrame:
        lights = self.view.lights
        return lights.loc[lights["state"] == "red"] if len(lights) else lights


def quality_index(db: Database, settings: Settings, *, at: datetime | None = None) -> QualityIndex:
    rules = load_rules(rules_path(settings))
    run = evaluate_rules(db, settings, rules, at=at, notify=False, record=False)
    # the drill-down offers the refusal rate, so the flags are read whatever the rules are
    since = overview.since_for(rules, run.at)
    data = watch_data.load(
        db, since=since, until=run.at, refusals=True, cap=settings.watch_load_cap
    )
    return QualityIndex(overview.build(db, run, rules, data), data)


def examples(db: Database, index: QualityIndex, key: str, *, limit: int = 20) -> pd.DataFrame:
    """The responses behind the light ``key`` (``rule|by=cell``)."""
    row = index.view.lights.loc[index.view.lights["key"] == key].iloc[0]
    rule = index.view.rules[row["rule"]]
    return overview.examples(db, index.data, rule, row["cell"], at=index.view.run.at, limit=limit)


@dataclass(frozen=True)
class Drill:
    """One drill-down: ``metric`` (a label of ``DRILL_METRICS``) per value of ``dimension``
    (a label of ``DRILL_DIMENSIONS``) over the last ``days``: the table and its chart."""

    metric: str
    dimension: str
    days: int
    table: pd.DataFrame  # cell, value, low, high, n, exposure, method, note
    chart: str

    def label(self, cell: str) -> str:
        """What the button of one value says: the value, the rate, its interval, what it rests
        on (Markdown-escaped: the value comes from captured data)."""
        row = self.table.loc[self.table["cell"] == cell].iloc[0]
        if row["value"] is None or (isinstance(row["value"], float) and math.isnan(row["value"])):
            number = "no data"
        else:
            number = f"{row['value']:.1%} (95% {row['low']:.1%}–{row['high']:.1%})"
        if row["method"] == "score":
            kind = "guard-scored"
        elif DRILL_METRICS[self.metric] in overview.RATE_HEADS:
            kind = "labelled"
        else:
            kind = "responses"
        return plain(f"{cell} · {number} · n={int(row['n'])} {kind}")

    @property
    def cells(self) -> list[str]:
        return [str(c) for c in self.table["cell"]]


def drill_down(index: QualityIndex, metric: str, dimension: str, *, days: int = 7) -> Drill:
    """The rate ``metric`` per value of ``dimension`` over the last ``days`` before the index's
    time, with intervals (labels as in ``DRILL_METRICS`` / ``DRILL_DIMENSIONS``)."""
    m, by = DRILL_METRICS[metric], DRILL_DIMENSIONS[dimension]
    table = overview.drill_down(index.data, m, by, at=index.view.run.at, window=timedelta(days))
    return Drill(metric, dimension, days, table, overview.drill_chart(table, m, by))


def drill_examples(db: Database, index: QualityIndex, drill: Drill, cell: str, *,
                   limit: int = 20) -> pd.DataFrame:  # fmt: skip
    """The responses behind one number of a drill-down, the ones the rate counts first."""
    rule = overview.drill_rule(
        DRILL_METRICS[drill.metric], DRILL_DIMENSIONS[drill.dimension], timedelta(drill.days)
    )
    return overview.examples(db, index.data, rule, cell, at=index.view.run.at, limit=limit)
