"""Deterministic synthetic production traffic for ``evalkit demo``.

The demo of the whole product (review queue, risk classifier, dashboards, golden sets) stands on
this traffic, so it has to carry real signal rather than noise with the right column names:

- three models with distinct profiles: a big, accurate, slow, expensive one; a fast cheap one that
  hallucinates more; a fine-tuned one that is terse and more often curt;
- a prompt release (``support-v13``, day 7) that makes refund answers hallucinate far more, a
  regression that drift and gate stages should find; the medical tenant stays pinned on v12;
- hallucinations that contradict the retrieved context (see ``text``), harmful sentences of
  graded severity, tone markers, PII in ~5% of prompts for the redactor to count;
- self-reported confidence only weakly related to correctness: fluent and wrong is the point;
- outcomes and late feedback that are worse for bad responses, as they are in production.

Every draw goes through the ``rng`` passed in, so the same seed, start and ``n`` give the same
files byte for byte. ``truth`` is what really happened and never goes into the traffic files.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.demo import text
from evalkit.demo.profiles import (
    CHANNELS,
    DAYS,
    DRIFT_DAY,
    DRIFT_INTENT,
    DRIFT_SHARE,
    FEEDBACK_SOURCES,
    FRUSTRATED,
    HOURLY,
    INTENTS,
    LOCALES,
    MODELS,
    OUTCOMES,
    PROMPTS,
    TENANTS,
    WEEKEND,
    IntentProfile,
    ModelProfile,
    PromptRelease,
    TenantProfile,
)
from evalkit.demo.words import TENANT_FACTS, pick, weighted
from evalkit.errors import UsageError


@dataclass(frozen=True)
class DemoTraffic:
    """Synthetic traffic as a user would hand it to ``evalkit ingest``, plus what really happened.

    ``responses`` and ``feedback`` are raw input records (JSON-ready dicts); ``truth`` maps a
    response id to ``{"hallucination", "harm", "harm_severity", "tone"}``.
    """

    responses: list[dict[str, Any]]
    feedback: list[dict[str, Any]]
    truth: dict[str, dict[str, Any]]


def _stamp(when: datetime) -> str:
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _arrival_times(n: int, rng: np.random.Generator, start: datetime) -> list[datetime]:
    """``n`` sorted times in the 14 days after ``start``, following the daily and weekly curve."""
    hours = [start + timedelta(hours=h) for h in range(DAYS * 24)]
    w = np.array([HOURLY[h.hour] * (WEEKEND if h.weekday() >= 5 else 1.0) for h in hours])
    slots = rng.choice(len(hours), size=n, p=w / w.sum())
    millis = rng.integers(0, 3_600_000, size=n)
    return sorted(
        hours[s] + timedelta(milliseconds=int(ms)) for s, ms in zip(slots, millis, strict=True)
    )


def _version(versions: tuple[tuple[int, str], ...], day: int) -> str:
    return [v for first, v in versions if first <= day][-1]


def _prompt_release(tenant: TenantProfile, day: int) -> PromptRelease:
    live = [p for p in PROMPTS if p.first_day <= day]
    if tenant.pinned_prompt:
        live = [p for p in live if p.version == tenant.pinned_prompt]
    return live[-1]


def _route(rng: np.random.Generator, tenant: TenantProfile, segment: str) -> ModelProfile:
    """Pick the serving model; enterprise traffic is routed to the big model more often."""
    weights = dict(tenant.models)
    if segment == "enterprise" and "atlas-xl" in weights:
        weights["atlas-xl"] *= 3
    if segment == "free" and "swift-mini" in weights:
        weights["swift-mini"] *= 1.5
    return MODELS[weighted(rng, weights)]


def _judge(
    rng: np.random.Generator,
    model: ModelProfile,
    intent: IntentProfile,
    release: PromptRelease,
    frustrated: bool,
    version: str = "",
) -> tuple[dict[str, Any], str | None]:
    """What goes wrong in this turn: the truth record and the kind of harm, if any."""
    p_hall = model.hallucination * intent.hallucination * release.hallucination.get(intent.name, 1)
    p_hall *= dict(model.regressions).get(version, 1.0)
    hallucination = bool(rng.random() < min(p_hall, 0.9))
    harm_kind, severity = None, None
    if rng.random() < model.harm * intent.harm:
        harm_kind, severity, _ = weighted(rng, {k: k[2] for k in intent.harm_kinds})
    polite, neutral, impolite = model.tone
    impolite *= 1.6 if frustrated else 1.0
    tone = weighted(rng, {"polite": polite, "neutral": neutral, "impolite": impolite})
    if harm_kind == "disparage":
        tone = "impolite"  # disparaging a user is never merely neutral
    truth = {
        "hallucination": hallucination,
        "harm": harm_kind is not None,
        "harm_severity": severity,
        "tone": tone,
    }
    return truth, harm_kind


def _outcome(rng: np.random.Generator, intent: IntentProfile, bad: bool, frustrated: bool) -> str:
    """Bad answers convert and resolve less and are dropped or escalated more."""
    p = np.array(intent.outcomes)
    if bad:
        p = p * np.array([0.5, 0.55, 1.6, 3.0])
    if frustrated:
        p = p * np.array([1.0, 1.0, 1.0, 1.5])
    return weighted(rng, dict(zip(OUTCOMES, p.tolist(), strict=True)))


def _usage(
    rng: np.random.Generator,
    model: ModelProfile,
    release: PromptRelease,
    prompt: str,
    context: str | None,
    response: str,
) -> dict[str, Any]:
    """Tokens from text length (~4 chars a token), latency with a heavy tail, cost from prices."""
    input_tokens = release.system_tokens + round((len(prompt) + len(context or "")) / 4)
    input_tokens += int(rng.integers(0, 12))
    output_tokens = max(1, round(len(response) / 4 * rng.uniform(0.9, 1.1)))
    base, per_token, sigma = model.latency_ms
    latency = (base + per_token * output_tokens + 0.2 * input_tokens) * rng.lognormal(0, sigma)
    if rng.random() < 0.02:  # queueing, retries, cold starts: the tail dashboards must show
        latency *= 1 + 3 * rng.pareto(1.5)
    price_in, price_out = model.price
    cost = (input_tokens * price_in + output_tokens * price_out) / 1_000_000
    return {
        "latency_ms": round(min(latency, 120_000.0), 1),
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cost": round(cost, 8),
    }


def _confidence(rng: np.random.Generator, model: ModelProfile, hallucination: bool) -> float:
    a, b = model.confidence
    return round(float(rng.beta(a * 0.65 if hallucination else a, b)), 4)


@dataclass
class _Turn:
    """One generated response with what its feedback depends on."""

    record: dict[str, Any]
    truth: dict[str, Any]
    at: datetime
    outcome: str  # the true one, whether or not the record carries it
    bad: bool
    correction: str | None


def _side_rng(rid: str) -> np.random.Generator:
    """A stream of its own per response for the drift event, so adding the event left every
    other draw (and so every other record) of a seed as it was."""
    return np.random.default_rng(zlib.crc32(f"drift:{rid}".encode()))


def _side_draw(rid: str) -> float:
    return float(np.random.default_rng(zlib.crc32(f"drift-share:{rid}".encode())).random())


def _turn(rng: np.random.Generator, rid: str, at: datetime, start: datetime) -> _Turn:
    """One response: who asked what, which model answered, what went wrong, what it cost."""
    day = (at - start) // timedelta(days=1)
    tenant = TENANTS[weighted(rng, {i: t.share for i, t in enumerate(TENANTS)})]
    segment = weighted(rng, tenant.segments)
    intent = INTENTS[weighted(rng, tenant.intents)]
    model = _route(rng, tenant, segment)
    release = _prompt_release(tenant, day)
    channel, locale = weighted(rng, CHANNELS), weighted(rng, LOCALES)
    frustrated = bool(rng.random() < FRUSTRATED)
    facts = TENANT_FACTS[tenant.name]
    exchange = text.BUILDERS[intent.name](rng, facts, at)
    pii = None
    if rng.random() < intent.pii:
        pii = text.pii_sentence(rng, pick(rng, intent.pii_kinds))
    prompt = text.dress_prompt(rng, exchange.prompt, frustrated=frustrated, pii=pii)
    version = _version(model.versions, day)
    if intent.name == DRIFT_INTENT and day >= DRIFT_DAY and _side_draw(rid) < DRIFT_SHARE:
        prompt = text.recall_topic(_side_rng(rid), prompt)
    judged, harm_kind = _judge(rng, model, intent, release, frustrated, version)
    harm = text.harm_sentence(rng, harm_kind) if harm_kind else None
    sentences = exchange.invented if judged["hallucination"] else exchange.answer
    response = text.compose_response(
        rng, sentences, tone=judged["tone"], style=model.style, brand=facts.brand, harm=harm
    )
    bad = judged["hallucination"] or judged["harm"] or judged["tone"] == "impolite"
    outcome = _outcome(rng, intent, bad, frustrated)
    record: dict[str, Any] = {
        "id": rid,
        "created_at": _stamp(at),
        "tenant": tenant.name,
        "model_id": model.model_id,
        "model_version": version,
        "prompt_version": release.version,
        "intent": intent.name,
        "user_segment": segment,
        "prompt": prompt,
    }
    if exchange.context is not None:
        record["context"] = exchange.context
    record["response"] = response
    record.update(_usage(rng, model, release, prompt, exchange.context, response))
    record["confidence"] = _confidence(rng, model, judged["hallucination"])
    if rng.random() < 0.7:  # the rest learn their outcome later, if at all
        record["outcome"] = outcome
    record["metadata"] = {
        "channel": channel,
        "locale": locale,
        "session_id": f"s-{int(rng.integers(16**8)):08x}",
    }
    correction = exchange.correction if judged["hallucination"] and exchange.context else None
    return _Turn(record, judged, at, outcome, bad, correction)


def _feedback_for(rng: np.random.Generator, turn: _Turn) -> list[dict[str, Any]]:
    """Late events about one turn; ids are assigned once all are sorted by time."""
    rid, channel = turn.record["id"], turn.record["metadata"]["channel"]
    events: list[tuple[str, str, float, str]] = []  # kind, value, delay in minutes, source
    if "outcome" not in turn.record and rng.random() < 0.55:
        source = pick(rng, ("crm", "helpdesk"))
        events.append(("outcome", turn.outcome, rng.lognormal(np.log(480), 1.0), source))
    if rng.random() < (0.2 if turn.bad else 0.08):
        rating = "down" if rng.random() < (0.7 if turn.bad else 0.2) else "up"
        source = FEEDBACK_SOURCES[channel]
        events.append(("rating", rating, rng.lognormal(np.log(3), 0.8), source))
    if turn.correction and rng.random() < 0.3:
        source = pick(rng, ("web-widget", "agent-console"))
        events.append(("correction", turn.correction, rng.lognormal(np.log(12), 0.9), source))
    return [
        {
            "response_id": rid,
            "kind": kind,
            "value": value,
            "created_at": _stamp(turn.at + timedelta(minutes=1 + float(delay))),
            "source": source,
        }
        for kind, value, delay, source in events
    ]


def generate_demo(
    n: int = 2000, *, rng: np.random.Generator, start: datetime, run: str = "demo"
) -> DemoTraffic:
    """``n`` responses over the 14 days after ``start`` (timezone-aware), with feedback and truth.

    Response ids (``{run}-000001`` ...) follow creation time; feedback ids are ``{run}-fb-…``.
    Another seed or size is other traffic, so it needs another ``run`` (``demo_run``) to be
    stored beside the first rather than be refused as conflicting with it. About 25% of
    responses get late feedback; every feedback event points at a generated response and comes
    after it.
    """
    if n < 0:
        raise UsageError(f"n must be zero or more, got {n}")
    if start.tzinfo is None or start.utcoffset() != timedelta(0):
        raise UsageError(f"start must be a timezone-aware UTC datetime, got {start!r}")
    times = _arrival_times(n, rng, start)
    turns = [_turn(rng, f"{run}-{i:06d}", at, start) for i, at in enumerate(times, 1)]
    events = [event for turn in turns for event in _feedback_for(rng, turn)]
    events.sort(key=lambda e: (e["created_at"], e["response_id"], e["kind"]))
    feedback = [{"id": f"{run}-fb-{i:06d}", **event} for i, event in enumerate(events, 1)]
    truth = {t.record["id"]: t.truth for t in turns}
    return DemoTraffic([t.record for t in turns], feedback, truth)


def demo_run(seed: int, n: int) -> str:
    """The name of the traffic ``evalkit demo --seed SEED --n N`` makes: its ids' prefix and its
    folder. One name per (seed, n), since either changes every record."""
    return f"demo-s{seed}-n{n}"


def write_demo(traffic: DemoTraffic, directory: Path) -> dict[str, Path]:
    """Write ``traffic.jsonl``, ``feedback.jsonl`` and ``truth.jsonl``: UTF-8, one object a line.

    Returns their paths under the keys ``responses``, ``feedback`` and ``truth``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    truth_rows = [{"id": rid, **row} for rid, row in traffic.truth.items()]
    files = {
        "responses": ("traffic.jsonl", traffic.responses),
        "feedback": ("feedback.jsonl", traffic.feedback),
        "truth": ("truth.jsonl", truth_rows),
    }
    paths = {}
    for key, (name, rows) in files.items():
        path = directory / name
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for row in rows:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        paths[key] = path
    return paths
