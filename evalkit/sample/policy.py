"""Continuous sampling from a policy file, run from cron: exact probabilities, no repeats.

A policy names rules::

    queue: default
    rules:
      audit: random 2% per day                          # Bernoulli: each response with p = 0.02
      by-model: stratified model_id, 50 per stratum per week
      refunds: {strategy: random, rate: 0.1, intent: refund_policy}
      risky: {strategy: risk, head: hallucination, min_score: 0.7, sla: 1h}
      borderline: {strategy: uncertainty, head: hallucination, band: 0.05}

Two designs keep their probabilities exact however often the command runs:

- **Bernoulli (rate) rules** decide each response by a hash of (rule, response id): u < p. The
  decision never changes, so a response considered twice is decided the same way (repeated or
  overlapping runs never double-sample), and each response's probability is exactly p. A run
  considers what arrived (``received_at``) since the last run, plus the hour before it, so rows
  that an ingest committed late are still seen.
- **Quota rules** (n per stratum per day/week) wait until a period (by ``received_at``, UTC;
  weeks start on Monday) has ended an hour ago, then draw n_h = min(n, N_h) of each stratum's
  N_h responses of that period: probability n_h / N_h. Each period is drawn once.

Two targeted rules flag what the active classifier scores, as it arrives (the same look-back as
rate rules; a rule's first run looks back ``lookback``, default 1 day, not over all history):

- **risk**: responses whose ``head`` score is at least ``min_score`` (default: the head's review
  threshold) are queued with high priority and a due time (``sla``, default 1h);
- **uncertainty**: responses within ``band`` (default 0.1) of the head's review threshold, for
  active learning, at normal priority and with no due time.

Their items are a targeted stream (strategy ``risk`` / ``uncertainty``, kept out of rates as a
design weight), and without an active classifier the rule is skipped with the reason, so the
probability rules of the same file still run. ``priority`` (``high``, ``normal`` or a number)
and ``sla`` can be set on any rule; they change the serving order, never a probability.

Each rule's bookkeeping (what it considered through, totals) is a ``sampling_rules`` row; a rule
whose design changed under the same name is refused: give it a new name.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.durations import parse_duration
from evalkit.errors import UsageError
from evalkit.records import utcnow
from evalkit.review.types import NewItem
from evalkit.sample import strategies
from evalkit.sample.enqueue import DEFAULT_QUEUE, DEFAULT_SLA, HIGH_PRIORITY, enqueue_selection
from evalkit.sample.run import NO_CLASSIFIER, check_fields
from evalkit.store import sampling as store
from evalkit.store.database import Database

RESCAN = timedelta(hours=1)
GRACE = timedelta(hours=1)
PERIODS = {"day": timedelta(days=1), "week": timedelta(weeks=1)}
_RATE = re.compile(r"^random\s+([0-9.]+)\s*%(?:\s+per\s+(day|week))?$")
_QUOTA = re.compile(r"^stratified\s+(.+?),\s*(\d+)\s+per\s+stratum\s+per\s+(day|week)$")
_FILTERS = ("tenant", "model_id", "intent")
TARGETED = ("risk", "uncertainty")
DEFAULT_LOOKBACK = timedelta(days=1)
DEFAULT_BAND = 0.1
#: Scores ``head`` for these response ids with the active classifier: (id → score, the head's
#: review threshold); raises ``UsageError`` when there is no active classifier.
Scorer = Callable[[Sequence[str], str], tuple[dict[str, float], float]]


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
    #: targeted rules: the head scored, the minimum score (risk), the band (uncertainty)
    head: str | None = None
    min_score: float | None = None
    band: float | None = None
    lookback_s: float | None = None
    #: serving: priority (None: the strategy's default) and due time after queueing (seconds)
    priority: int | None = None
    sla_s: float | None = None

    #: Keys added after the first release: left out of ``spec`` while unset, so a rule stored
    #: before them compares equal to the same rule read again.
    _LATER = ("head", "min_score", "band", "lookback_s", "priority", "sla_s")

    def spec(self) -> dict[str, Any]:
        return {
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in asdict(self).items()
            if not (k in self._LATER and v is None)
        }

    def serving(self, now: datetime) -> tuple[int, datetime | None]:
        """Priority and due time of this rule's items queued at ``now``."""
        targeted_risk = self.strategy == "risk"
        priority = (
            self.priority if self.priority is not None else (HIGH_PRIORITY if targeted_risk else 0)
        )
        if self.sla_s is not None:
            return priority, (now + timedelta(seconds=self.sla_s) if self.sla_s > 0 else None)
        return priority, (now + DEFAULT_SLA if targeted_risk else None)


@dataclass(frozen=True)
class RuleRun:
    rule: str
    queue: str
    considered: int
    selected: int
    added: int
    periods: int = 0
    #: why the rule did not run (a targeted rule without an active classifier)
    skipped: str | None = None


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
    known |= {"head", "min_score", "band", "lookback", "priority", "sla"}
    unknown = sorted(set(spec) - known)
    if unknown:
        raise UsageError(f"{at}: unknown key(s) {', '.join(unknown)}")
    filters: dict[str, Any] = {f: str(spec[f]) for f in _FILTERS if spec.get(f) is not None}
    filters |= _serving(spec, at)
    rule_queue = str(spec.get("queue", queue))
    strategy = spec.get("strategy")
    targeted_keys = sorted({"head", "min_score", "band", "lookback"} & set(spec))
    if strategy not in TARGETED and targeted_keys:
        raise UsageError(f"{at}: {', '.join(targeted_keys)} apply to risk and uncertainty rules")
    if strategy in TARGETED:
        return _targeted(name, rule_queue, strategy, spec, filters, at)
    if strategy == "random":
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
    raise UsageError(
        f"{at}: strategy must be random (a rate), stratified (n per stratum), risk or uncertainty"
    )


def _serving(spec: Mapping[str, Any], at: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    priority = spec.get("priority")
    if priority is not None:
        named = {"high": HIGH_PRIORITY, "normal": 0}
        if isinstance(priority, str) and priority in named:
            out["priority"] = named[priority]
        elif isinstance(priority, int) and not isinstance(priority, bool):
            out["priority"] = priority
        else:
            raise UsageError(f"{at}: priority must be high, normal or a whole number")
    sla = spec.get("sla")
    if sla is not None:
        none = isinstance(sla, str) and sla.strip().lower() == "none"
        out["sla_s"] = 0.0 if none else parse_duration(sla, f"{at}: sla").total_seconds()
        if not none and out["sla_s"] <= 0:
            raise UsageError(f"{at}: sla must be a positive duration such as 1h (or none)")
    return out


def _targeted(
    name: str, queue: str, strategy: str, spec: Mapping[str, Any], extra: dict[str, Any], at: str
) -> Rule:
    if "rate" in spec or "by" in spec or "per_stratum" in spec or "period" in spec:
        raise UsageError(f"{at}: a {strategy} rule takes head, min_score/band, lookback, sla")
    head = spec.get("head", "hallucination")
    if not isinstance(head, str) or not head:
        raise UsageError(f"{at}: head names a classifier head (e.g. hallucination)")
    values: dict[str, Any] = {"head": head}
    if strategy == "risk":
        if "band" in spec:
            raise UsageError(f"{at}: band applies to uncertainty rules; risk takes min_score")
        if spec.get("min_score") is not None:
            values["min_score"] = _unit(spec["min_score"], f"{at}: min_score")
    else:
        if "min_score" in spec:
            raise UsageError(f"{at}: min_score applies to risk rules; uncertainty takes band")
        values["band"] = _unit(spec.get("band", DEFAULT_BAND), f"{at}: band")
    lookback = parse_duration(spec.get("lookback", "1d"), f"{at}: lookback")
    values["lookback_s"] = lookback.total_seconds()
    return Rule(name, queue, strategy, **values, **extra)


def _unit(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise UsageError(f"{what}: expected a score from 0 to 1 (got {value!r})")
    return float(value)


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
    scorer: Scorer | None = None,
) -> list[RuleRun]:
    """Run every rule once over what it has not considered yet; ``scorer`` serves the targeted
    rules (without one, or without an active classifier, they are skipped with the reason)."""
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
        through: datetime | None
        if rule.strategy in TARGETED:
            try:
                run, through = _run_targeted(db, rule, since, now, scorer)
            except UsageError as exc:
                runs.append(RuleRun(rule.name, rule.queue, 0, 0, 0, skipped=str(exc)))
                continue
        elif rule.strategy == "random":
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
    priority, due_at = rule.serving(now)
    items = [
        NewItem(row["id"], "policy", rule.rate, stratum=rule.name, priority=priority, due_at=due_at)
        for row in rows
        if bernoulli_draw(rule.name, row["id"]) < rule.rate
    ]
    result = enqueue_selection(
        db, items, queue=rule.queue, overlap_share=overlap_share, overlap_k=overlap_k, rng=rng
    )
    return RuleRun(rule.name, rule.queue, fresh, len(items), len(result.added)), now


def _run_targeted(
    db: Database, rule: Rule, since: datetime | None, now: datetime, scorer: Scorer | None
) -> tuple[RuleRun, datetime]:
    """Score what arrived since the last run (the first: the look-back) and queue the responses
    the rule flags. Raises ``UsageError`` when nothing can score them (nothing is recorded)."""
    if scorer is None:
        raise UsageError(NO_CLASSIFIER.format(strategy=rule.strategy))
    assert rule.head is not None and rule.lookback_s is not None
    after = since - RESCAN if since is not None else now - timedelta(seconds=rule.lookback_s)
    rows = store.population(
        db, received_after=after, received_until=now, not_in_queue=rule.queue, **_filters(rule)
    )
    fresh = sum(1 for row in rows if since is None or row["received_at"] > since)
    scores, threshold = scorer([row["id"] for row in rows], rule.head) if rows else ({}, 0.5)
    priority, due_at = rule.serving(now)
    items = []
    for rid, score in scores.items():
        if rule.strategy == "risk":
            floor = rule.min_score if rule.min_score is not None else threshold
            hit, why = score >= floor, f"{rule.head} {score:.2f} ≥ {floor:g}"
        else:
            assert rule.band is not None
            hit = abs(score - threshold) <= rule.band
            why = f"{rule.head} {score:.2f} within {rule.band:g} of {threshold:g}"
        if hit:
            items.append(
                NewItem(
                    rid,
                    rule.strategy,
                    1.0,
                    stratum=rule.name,
                    priority=priority,
                    due_at=due_at,
                    reason=f"rule {rule.name}: {why}"[:256],
                )
            )
    result = enqueue_selection(db, items, queue=rule.queue, rng=np.random.default_rng(0), now=now)
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
        priority, due_at = rule.serving(now)
        items = [
            NewItem(
                s.response_id,
                "policy",
                s.inclusion_probability,
                stratum=f"{rule.name}:{s.stratum}",
                priority=priority,
                due_at=due_at,
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
