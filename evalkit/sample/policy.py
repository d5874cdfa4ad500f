"""Continuous sampling from a policy file, run from cron: exact probabilities, no repeats.

A policy names rules::

    queue: default
    rules:
      audit: random 2% per day                          # Bernoulli: each response with p = 0.02
      by-model: stratified model_id, 50 per stratum per week
      refunds: {strategy: random, rate: 0.1, intent: refund_policy}

Two designs keep their probabilities exact however often the command runs:

- **Bernoulli (rate) rules** decide each response by a hash of (rule, response id): u < p. The
  decision never changes, so a response considered twice is decided the same way (repeated or
  overlapping runs never double-sample), and each response's probability is exactly p. A run
  considers what arrived (``received_at``) since the last run, plus the hour before it, so rows
  that an ingest committed late are still seen.
- **Quota rules** (n per stratum per day/week) wait until a period (by ``received_at``, UTC;
  weeks start on Monday) has ended an hour ago, then draw n_h = min(n, N_h) of each stratum's
  N_h responses of that period: probability n_h / N_h. Each period is drawn once.

Each rule's bookkeeping (what it considered through, totals) is a ``sampling_rules`` row; a rule
whose design changed under the same name is refused: give it a new name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.errors import UsageError
from evalkit.records import utcnow
from evalkit.review.types import NewItem
from evalkit.sample import strategies
from evalkit.sample.enqueue import DEFAULT_QUEUE, enqueue_selection
from evalkit.sample.run import check_fields
from evalkit.store import sampling as store
from evalkit.store.database import Database

RESCAN = timedelta(hours=1)
GRACE = timedelta(hours=1)
PERIODS = {"day": timedelta(days=1), "week": timedelta(weeks=1)}
_RATE = re.compile(r"^random\s+([0-9.]+)\s*%(?:\s+per\s+(day|week))?$")
_QUOTA = re.compile(r"^stratified\s+(.+?),\s*(\d+)\s+per\s+stratum\s+per\s+(day|week)$")
_FILTERS = ("tenant", "model_id", "intent")


@dataclass(frozen=True)
class Rule:
    name: str
    queue: str
    strategy: str  # random (a rate) | stratified (quota per period)
    rate: float | None = None
    by: tuple[str, ...] = ()
    per_stratum: int | None = None
    period: str | None = None
    tenant: str | None = None
    model_id: str | None = None
    intent: str | None = None

    def spec(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class RuleRun:
    rule: str
    queue: str
    considered: int
    selected: int
    added: int
    periods: int = 0


def load_policy(path: Path) -> list[Rule]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"no policy file {str(path)!r}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: not valid YAML ({exc})") from None
    return parse_policy(data, where=str(path))


def parse_policy(data: Any, *, where: str = "policy") -> list[Rule]:
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), Mapping):
        raise UsageError(f"{where}: expected a mapping with 'rules' (name: rule)")
    queue = str(data.get("queue", DEFAULT_QUEUE))
    rules = [_rule(str(name), spec, queue, where) for name, spec in data["rules"].items()]
    if not rules:
        raise UsageError(f"{where}: no rules")
    return rules


def _rule(name: str, spec: Any, queue: str, where: str) -> Rule:
    at = f"{where}: rule {name!r}"
    if isinstance(spec, str):
        text = " ".join(spec.split())
        if m := _RATE.match(text):
            spec = {"strategy": "random", "rate": float(m.group(1)) / 100}
        elif m := _QUOTA.match(text):
            fields = [f.strip() for f in m.group(1).split(",")]
            spec = {"strategy": "stratified", "by": fields, "per_stratum": int(m.group(2))}
            spec["period"] = m.group(3)
        else:
            raise UsageError(
                f"{at}: cannot read {spec!r}; write e.g. 'random 2% per day' or "
                "'stratified model_id, 50 per stratum per week'"
            )
    if not isinstance(spec, Mapping):
        raise UsageError(f"{at}: expected text or a mapping")
    known = {"strategy", "rate", "by", "per_stratum", "period", "queue", *_FILTERS}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise UsageError(f"{at}: unknown key(s) {', '.join(unknown)}")
    filters: dict[str, Any] = {f: str(spec[f]) for f in _FILTERS if spec.get(f) is not None}
    rule_queue = str(spec.get("queue", queue))
    if spec.get("strategy") == "random":
        rate = spec.get("rate")
        if not isinstance(rate, int | float) or not 0 < rate <= 1:
            raise UsageError(f"{at}: rate must be a share in (0, 1] (got {rate!r})")
        return Rule(name, rule_queue, "random", rate=float(rate), **filters)
    if spec.get("strategy") == "stratified":
        raw = spec.get("by")
        by: list[str] = [raw] if isinstance(raw, str) else list(raw or [])
        if not by or not all(isinstance(f, str) for f in by):
            raise UsageError(f"{at}: 'by' names the stratum fields")
        check_fields(by)
        n = spec.get("per_stratum")
        if not isinstance(n, int) or n < 1:
            raise UsageError(f"{at}: per_stratum must be a whole number ≥ 1 (got {n!r})")
        period = spec.get("period", "week")
        if period not in PERIODS:
            raise UsageError(f"{at}: period must be day or week (got {period!r})")
        return Rule(
            name, rule_queue, "stratified", by=tuple(by), per_stratum=n, period=period, **filters
        )
    raise UsageError(f"{at}: strategy must be random (a rate) or stratified (n per stratum)")


def bernoulli_draw(rule: str, response_id: str) -> float:
    """A uniform number in [0, 1) fixed by (rule, response): the same on every run."""
    digest = hashlib.sha256(f"{rule}\0{response_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def run_policy(
    db: Database,
    rules: list[Rule],
    *,
    now: datetime | None = None,
    overlap_share: float = 0.0,
    overlap_k: int = 2,
    seed: int = 0,
) -> list[RuleRun]:
    """Run every rule once over what it has not considered yet."""
    now = now or utcnow()
    runs = []
    for rule in rules:
        held = store.get_rule(db, rule.name)
        if held is not None and held["spec"] != rule.spec():
            raise UsageError(
                f"rule {rule.name!r} changed since it last ran (was {held['spec']}); its earlier "
                "selections were made with the old design, so give the new one another name"
            )
        since = held["considered_through"] if held is not None else None
        rng = np.random.default_rng([seed, int.from_bytes(rule.name.encode()[:8], "big")])
        if rule.strategy == "random":
            run, through = _run_rate(db, rule, since, now, rng, overlap_share, overlap_k)
        else:
            run, through = _run_quota(db, rule, since, now, seed, overlap_share, overlap_k)
        store.save_rule(
            db,
            rule.name,
            queue=rule.queue,
            spec=rule.spec(),
            considered_through=through,
            considered=run.considered,
            selected=run.selected,
            now=now,
        )
        runs.append(run)
    return runs


def _filters(rule: Rule) -> dict[str, Any]:
    return {"tenant": rule.tenant, "model_id": rule.model_id, "intent": rule.intent}


def _run_rate(
    db: Database,
    rule: Rule,
    since: datetime | None,
    now: datetime,
    rng: np.random.Generator,
    overlap_share: float,
    overlap_k: int,
) -> tuple[RuleRun, datetime | None]:
    rows = store.population(
        db,
        received_after=since - RESCAN if since is not None else None,
        received_until=now,
        not_in_queue=rule.queue,
        **_filters(rule),
    )
    fresh = sum(1 for row in rows if since is None or row["received_at"] > since)
    assert rule.rate is not None
    items = [
        NewItem(row["id"], "policy", rule.rate, stratum=rule.name)
        for row in rows
        if bernoulli_draw(rule.name, row["id"]) < rule.rate
    ]
    result = enqueue_selection(
        db, items, queue=rule.queue, overlap_share=overlap_share, overlap_k=overlap_k, rng=rng
    )
    return RuleRun(rule.name, rule.queue, fresh, len(items), len(result.added)), now


def _period_start(t: datetime, period: str) -> datetime:
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday()) if period == "week" else day


def _run_quota(
    db: Database,
    rule: Rule,
    since: datetime | None,
    now: datetime,
    seed: int,
    overlap_share: float,
    overlap_k: int,
) -> tuple[RuleRun, datetime | None]:
    assert rule.period is not None and rule.per_stratum is not None
    length, per_stratum = PERIODS[rule.period], rule.per_stratum
    if since is None:
        first = store.population(db, received_until=now, **_filters(rule))
        if not first:
            return RuleRun(rule.name, rule.queue, 0, 0, 0), None
        since = _period_start(min(row["received_at"] for row in first), rule.period)
    start, considered, selected, added, periods = since, 0, 0, 0, 0
    while start + length + GRACE <= now:
        end = start + length
        rows = store.population(
            db,
            fields=rule.by,
            received_after=start - timedelta(microseconds=1),
            received_until=end - timedelta(microseconds=1),
            not_in_queue=rule.queue,
            **_filters(rule),
        )
        groups: dict[str, list[str]] = {}
        for row in rows:
            groups.setdefault(strategies.stratum_key(row, rule.by), []).append(row["id"])
        counts = {name: min(per_stratum, len(ids)) for name, ids in groups.items()}
        rng = np.random.default_rng([seed, int(start.timestamp())])
        chosen = strategies.stratified(groups, counts, rng)
        items = [
            NewItem(
                s.response_id, "policy", s.inclusion_probability, stratum=f"{rule.name}:{s.stratum}"
            )
            for s in chosen
        ]
        result = enqueue_selection(
            db, items, queue=rule.queue, overlap_share=overlap_share, overlap_k=overlap_k, rng=rng
        )
        considered += len(rows)
        selected += len(items)
        added += len(result.added)
        periods += 1
        start = end
    return RuleRun(rule.name, rule.queue, considered, selected, added, periods), start
