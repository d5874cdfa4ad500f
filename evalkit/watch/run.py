"""One watch run: load the data, evaluate the rules, keep alerts in step, notify.

An alert is opened for every red cell and stays open (one row, refreshed) while the cell stays
red: its opening notice is sent once, and re-tried on later runs only until it is delivered.
When the cell is no longer red the alert closes and a closing notice is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from evalkit.settings import Settings
from evalkit.store import watch as store
from evalkit.store.database import Database
from evalkit.watch import data as watch_data
from evalkit.watch.drift import bounded
from evalkit.watch.embed_drift import embedding_drift
from evalkit.watch.embeddings import EmbeddingCache, EncodeFn
from evalkit.watch.evaluate import evaluate, rule_lookback
from evalkit.watch.kpis import COLUMNS
from evalkit.watch.notify import post_json
from evalkit.watch.rules import CellState, Rule, load_rules

BUILTIN_RULES = Path(__file__).with_name("default_rules.yaml")


@dataclass
class WatchRun:
    """What one run found and did."""

    at: datetime
    states: list[CellState]
    opened: list[store.Alert] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    deliveries: list[str] = field(default_factory=list)
    #: what the run could not read in full (a look-back above the load cap, sampled)
    notes: list[str] = field(default_factory=list)

    @property
    def red(self) -> list[CellState]:
        return [s for s in self.states if s.state == "red"]


def rules_path(settings: Settings, given: Path | None = None) -> Path:
    if given is not None:
        return given
    if settings.watch_rules is not None:
        return settings.watch_rules
    local = settings.data_dir / "watch_rules.yaml"
    return local if local.exists() else BUILTIN_RULES


def needs_refusals(rules: list[Rule]) -> bool:
    """Whether a rule reads the refusal flags (which means reading the response texts)."""
    return any(
        r.metric == "refusal_rate" or (r.metric == "cohort_gap" and r.head == "refusal")
        for r in rules
    )


def embedding_kpi(db: Database, settings: Settings, *, seed: int = 0,
                  encode: EncodeFn | None = None):  # fmt: skip
    """The ``embedding_drift`` KPI bound to the store's texts and the on-disk cache."""
    # one cache per encoder: vectors of different models never mix
    name = "minilm" if encode is None else getattr(encode, "__name__", "custom")
    cache = EmbeddingCache(settings.data_dir / "watch" / "embeddings" / name, encode)

    def kpi(now, reference, by: str | None, text_field: str) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        rows = []
        everything_now = pd.Series("all", index=now.traffic.index)
        everything_ref = pd.Series("all", index=reference.traffic.index)
        cells_now = now.traffic[by].fillna("∅").astype(str) if by else everything_now
        cells_ref = reference.traffic[by].fillna("∅").astype(str) if by else everything_ref
        cells = sorted(set(cells_now))
        alpha = 0.05 / max(len(cells), 1)  # Bonferroni over the cells compared
        for cell in cells:
            cur = now.traffic.loc[cells_now == cell]
            ref = reference.traffic.loc[cells_ref == cell]
            cur = bounded(cur, settings.watch_embed_sample, rng)
            ref = bounded(ref, settings.watch_embed_sample, rng)
            vectors = []
            for part in (ref, cur):
                ids = part["id"].tolist()
                text = store.texts(db, ids).set_index("id").reindex(ids)
                vectors.append(cache.get(text_field, ids, text[text_field].fillna("").tolist()))
            result = embedding_drift(vectors[0], vectors[1], rng=rng, alpha=alpha)
            note = (
                f"{result.reason} (p={result.p_value:.3g}, significant below {alpha:.2g}); "
                f"mean-embedding distance {result.distance:.3f} "
                f"(permutation threshold {result.distance_threshold:.3f})"
            )
            rows.append(
                [
                    cell,
                    result.auc,
                    np.nan,
                    np.nan,
                    min(result.n_current, result.n_reference),
                    round(int((cells_now == cell).sum()) / now.fraction),
                    "permutation",
                    note,
                    result.drifted,
                ]
            )
        return pd.DataFrame(rows, columns=[*COLUMNS, "flagged"])

    return kpi


def evaluate_rules(
    db: Database,
    settings: Settings,
    rules: Path | list[Rule] | None = None,
    *,
    at: datetime | None = None,
    notify: bool = True,
    encode: EncodeFn | None = None,
    record: bool = True,
    cap: int | None = None,
    seed: int = 0,
) -> WatchRun:
    """Evaluate the rules once as of ``at`` (default: the newest captured response), store
    alerts, send notices to ``settings.watch_webhook_url``; the demo and the CLI call this.

    ``record=False`` (the dashboard) only computes: no alert is opened or closed, no snapshot
    for ``/metrics`` written, no notice sent.

    Each rule reads its own look-back (``rule_lookback``: window, persistence, baseline), never
    all history; a look-back holding more than ``cap`` responses is read as a seeded sample of
    about ``cap`` (default ``settings.watch_load_cap``) plus every reviewed response
    (``WatchRun.notes`` says where).
    """
    cap = cap if cap is not None else settings.watch_load_cap
    rule_list = rules if isinstance(rules, list) else load_rules(rules_path(settings, rules))
    if at is None:
        newest = store.newest_response_at(db)
        at = newest + timedelta(milliseconds=1) if newest is not None else None
    if at is None:
        return WatchRun(datetime.now().astimezone(), [])
    kpi = embedding_kpi(db, settings, encode=encode)
    notes: list[str] = []
    # each rule reads only its own look-back (rules sharing one share the read), capped
    spans: dict[timedelta, list[Rule]] = {}
    for rule in rule_list:
        spans.setdefault(rule_lookback(rule), []).append(rule)
    by_rule: dict[int, list[CellState]] = {}
    for span, group in sorted(spans.items()):
        data = watch_data.load(
            db, since=at - span, until=at, refusals=needs_refusals(group), cap=cap, seed=seed
        )
        if data.note:
            names = ", ".join(r.name for r in group)
            notes.append(f"{names}: {data.note}")
        for rule in group:
            by_rule[id(rule)] = evaluate(
                [rule], data, at=at, embedding_drift=kpi, max_rows=settings.watch_max_rows
            )
    states = [s for rule in rule_list for s in by_rule[id(rule)]]
    run = WatchRun(at, states, notes=notes)
    if record:
        from evalkit.watch.metrics import write_snapshot

        _sync_alerts(db, settings, run, notify=notify)
        write_snapshot(settings, run)
    return run


def _payload(kind: str, alert: store.Alert) -> dict:
    return {
        "event": kind,
        "rule": alert.rule,
        "cell": alert.cell,
        "state": alert.state,
        "value": alert.value,
        "message": alert.message,
        "action": alert.action,
        "owner": alert.owner,
        "opened_at": alert.opened_at.isoformat(),
        "source": "evalkit watch",
    }


def _deliver(db: Database, settings: Settings, run: WatchRun, alert: store.Alert,
             kind: str) -> None:  # fmt: skip
    url = settings.watch_webhook_url
    if not url:
        return
    result = post_json(
        url,
        _payload(kind, alert),
        timeout=settings.watch_webhook_timeout_s,
        retries=settings.watch_webhook_retries,
    )
    kind_name = "notified" if kind == "opened" else "resolved_notified"
    store.record_delivery(db, alert.id, ok=result.ok, detail=result.detail, kind=kind_name)
    run.deliveries.append(f"{kind} {alert.key}: {result.detail} after {result.attempts}")


def _sync_alerts(db: Database, settings: Settings, run: WatchRun, *, notify: bool) -> None:
    red = {s.key: s for s in run.red}
    # without data to judge, a breach has not cleared: its alert stays open
    undecided = {s.key for s in run.states if s.state == "insufficient"}
    for key, s in red.items():
        alert = store.open_alert(
            db, key=key, rule=s.rule, cell={s.by or "all": s.cell}, state=s.state,
            value=None if np.isnan(s.value) else s.value, message=s.reason, owner=s.owner,
            action=s.action,
        )  # fmt: skip
        run.opened.append(alert)
        if notify and alert.notified_at is None:
            _deliver(db, settings, run, alert, "opened")
    for alert in store.alerts(db, status="open", limit=10_000):
        if alert.key not in red and alert.key not in undecided:
            store.close_alert(db, alert.id, detail="condition cleared")
            run.closed.append(alert.key)
            if notify and alert.notified_at is not None:
                _deliver(db, settings, run, alert, "closed")
