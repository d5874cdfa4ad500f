"""View model of the Quality page: the index, its drill-down and the responses behind a light.

Computed by ``evalkit.watch`` without recording anything (no alert opened or closed, no notice
sent: that is ``evalkit watch``'s job); the page only renders what this returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.watch import data as watch_data
from evalkit.watch import overview
from evalkit.watch.overview import Overview
from evalkit.watch.rules import load_rules
from evalkit.watch.run import evaluate_rules, rules_path


@dataclass
class QualityIndex:
    view: Overview
    data: watch_data.WatchData

    @property
    def red(self) -> pd.DataFrame:
        lights = self.view.lights
        return lights.loc[lights["state"] == "red"] if len(lights) else lights


def quality_index(db: Database, settings: Settings, *, at: datetime | None = None) -> QualityIndex:
    rules = load_rules(rules_path(settings))
    run = evaluate_rules(db, settings, rules, at=at, notify=False, record=False)
    data = watch_data.load(db, since=overview.since_for(rules, run.at), until=run.at)
    return QualityIndex(overview.build(db, run, rules, data), data)


def examples(db: Database, index: QualityIndex, key: str, *, limit: int = 20) -> pd.DataFrame:
    """The responses behind the light ``key`` (``rule|by=cell``)."""
    row = index.view.lights.loc[index.view.lights["key"] == key].iloc[0]
    rule = index.view.rules[row["rule"]]
    return overview.examples(db, index.data, rule, row["cell"], at=index.view.run.at, limit=limit)
