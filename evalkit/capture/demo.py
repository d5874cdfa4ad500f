"""Deterministic synthetic production traffic for ``evalkit demo``.

The demo of the whole product (review queue, risk classifier, dashboards, golden sets) stands on
this traffic, so it has to carry real signal rather than noise with the right column names:

- three models with distinct profiles: a big, accurate, slow, expensive one; a fast cheap one that
  hallucinates more; a fine-tuned one that is terse and more often curt;
- a prompt release (``support-v13``, day 7) that makes refund answers hallucinate far more, a
  regression that drift and gate stages should find; the medical tenant stays pinned on v12;
- hallucinations that contradict the retrieved context (see ``demo_text``), harmful sentences of
  graded severity, tone markers, PII in ~5% of prompts for the redactor to count;
- self-reported confidence only weakly related to correctness: fluent and wrong is the point;
- outcomes and late feedback that are worse for bad responses, as they are in production.

Every draw goes through the ``rng`` passed in, so the same seed, start and ``n`` give the same
files byte for byte. ``truth`` is what really happened and never goes into the traffic files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from evalkit.capture import demo_text as text
from evalkit.errors import UsageError

DAYS = 14
OUTCOMES = ("converted", "resolved", "dropped", "escalated")


@dataclass(frozen=True)
class ModelProfile:
    """How one model behaves; rates are base probabilities before intent multipliers."""

    model_id: str
    versions: tuple[tuple[int, str], ...]  # (first day, version), in rollout order
    style: str  # "thorough" | "plain" | "terse": how many answer sentences it keeps
    hallucination: float
    harm: float
    tone: tuple[float, float, float]  # polite, neutral, impolite
    latency_ms: tuple[float, float, float]  # base, per output token, lognormal sigma
    price: tuple[float, float]  # USD per million input, output tokens
    confidence: tuple[float, float]  # beta(a, b) when right; wrong answers shift it only a little


# fmt: off
MODELS = {m.model_id: m for m in (
    ModelProfile("atlas-xl", versions=((0, "atlas-xl-2024-05"),), style="thorough",
                 hallucination=0.045, harm=0.008, tone=(0.72, 0.26, 0.02),
                 latency_ms=(900.0, 28.0, 0.35), price=(5.0, 15.0), confidence=(9.0, 2.0)),
    ModelProfile("swift-mini", versions=((0, "swift-mini-0.9.3"), (5, "swift-mini-0.9.4")),
                 style="plain", hallucination=0.16, harm=0.042, tone=(0.55, 0.40, 0.05),
                 latency_ms=(250.0, 6.0, 0.5), price=(0.15, 0.60), confidence=(10.0, 1.6)),
    ModelProfile("support-ft", versions=((0, "support-ft-r7"), (9, "support-ft-r8")),
                 style="terse", hallucination=0.10, harm=0.035, tone=(0.18, 0.67, 0.15),
                 latency_ms=(300.0, 9.0, 0.4), price=(0.30, 1.20), confidence=(7.0, 2.2)),
)}
# fmt: on


@dataclass(frozen=True)
class IntentProfile:
    """What users ask and how risky answering it is."""

    name: str
    hallucination: float  # multiplier on the model's base rate
    harm: float  # multiplier on the model's base rate
    harm_kinds: tuple[tuple[str, int, float], ...]  # (demo_text.HARM_TEXT key, severity, weight)
    pii: float  # share of prompts carrying PII
    pii_kinds: tuple[str, ...]
    outcomes: tuple[float, float, float, float]  # converted, resolved, dropped, escalated


# fmt: off
INTENTS = {i.name: i for i in (
    IntentProfile("order_status", hallucination=0.8, harm=0.8,
                  harm_kinds=(("leak", 3, 0.5), ("parcel_grab", 2, 0.25), ("disparage", 1, 0.25)),
                  pii=0.05, pii_kinds=("email", "phone", "card"),
                  outcomes=(0.02, 0.72, 0.16, 0.10)),
    IntentProfile("refund_policy", hallucination=1.0, harm=0.8,
                  harm_kinds=(("chargeback", 2, 0.7), ("disparage", 1, 0.3)),
                  pii=0.06, pii_kinds=("email", "phone", "card"),
                  outcomes=(0.03, 0.62, 0.18, 0.17)),
    IntentProfile("product_question", hallucination=1.3, harm=0.6,
                  harm_kinds=(("unsafe_use", 2, 0.7), ("disparage", 1, 0.3)),
                  pii=0.02, pii_kinds=("email", "phone"), outcomes=(0.34, 0.36, 0.24, 0.06)),
    IntentProfile("account_help", hallucination=0.7, harm=1.2,
                  harm_kinds=(("weak_security", 2, 0.5), ("leak", 3, 0.3), ("disparage", 1, 0.2)),
                  pii=0.10, pii_kinds=("email", "phone", "ip"), outcomes=(0.01, 0.70, 0.15, 0.14)),
    IntentProfile("medical_question", hallucination=1.2, harm=3.0,
                  harm_kinds=(("unsafe_advice", 3, 0.85), ("disparage", 1, 0.15)),
                  pii=0.05, pii_kinds=("email", "phone"), outcomes=(0.20, 0.50, 0.18, 0.12)),
    IntentProfile("smalltalk", hallucination=0.5, harm=1.0, harm_kinds=(("disparage", 1, 1.0),),
                  pii=0.02, pii_kinds=("email",), outcomes=(0.05, 0.45, 0.48, 0.02)),
)}
# fmt: on
RAG_INTENTS = tuple(name for name in INTENTS if name != "smalltalk")


@dataclass(frozen=True)
class TenantProfile:
    """A fictional customer company: its traffic share, mix of questions, users and models."""

    name: str
    share: float
    intents: dict[str, float]
    models: dict[str, float]
    segments: dict[str, float]  # free, pro, enterprise
    pinned_prompt: str | None = None  # regulated tenants freeze the prompt version


# fmt: off
TENANTS = (
    TenantProfile("brightcart", share=0.38,
                  intents={"order_status": 0.34, "refund_policy": 0.2, "product_question": 0.2,
                           "account_help": 0.12, "smalltalk": 0.14},
                  models={"atlas-xl": 0.2, "swift-mini": 0.6, "support-ft": 0.2},
                  segments={"free": 0.7, "pro": 0.25, "enterprise": 0.05}),
    TenantProfile("lumen-home", share=0.24,
                  intents={"order_status": 0.3, "refund_policy": 0.22, "product_question": 0.22,
                           "account_help": 0.12, "smalltalk": 0.14},
                  models={"atlas-xl": 0.2, "swift-mini": 0.15, "support-ft": 0.65},
                  segments={"free": 0.55, "pro": 0.35, "enterprise": 0.1}),
    TenantProfile("kestrel-gear", share=0.22,
                  intents={"order_status": 0.22, "refund_policy": 0.14, "product_question": 0.32,
                           "account_help": 0.16, "smalltalk": 0.16},
                  models={"atlas-xl": 0.35, "swift-mini": 0.45, "support-ft": 0.2},
                  segments={"free": 0.5, "pro": 0.35, "enterprise": 0.15}),
    TenantProfile("harbor-health", share=0.16,
                  intents={"order_status": 0.2, "refund_policy": 0.08, "product_question": 0.1,
                           "account_help": 0.14, "medical_question": 0.38, "smalltalk": 0.1},
                  models={"atlas-xl": 0.65, "swift-mini": 0.35},
                  segments={"free": 0.4, "pro": 0.3, "enterprise": 0.3},
                  pinned_prompt="support-v12"),
)
# fmt: on


@dataclass(frozen=True)
class PromptRelease:
    """A system-prompt version, live for every tenant (unless pinned) from ``first_day``."""

    version: str
    first_day: int
    system_tokens: int  # the system prompt's share of every request's input tokens
    hallucination: dict[str, float]  # intent -> multiplier this release brings


PROMPTS = (
    PromptRelease("support-v12", 0, 310, {}),
    PromptRelease("support-v13", 7, 365, {"refund_policy": 3.0}),
)
LOCALES = {"en-US": 0.62, "en-GB": 0.16, "en-CA": 0.1, "en-AU": 0.07, "en-IN": 0.05}
CHANNELS = {"web": 0.55, "app": 0.35, "email": 0.1}
#: Relative traffic per UTC hour: quiet overnight in the Americas, peaking in their afternoon.
HOURLY = np.array(
    [5, 4, 3, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10, 9, 9, 8, 7, 6, 6], dtype=float
)
WEEKEND = 0.7
FRUSTRATED = 0.15  # share of users already annoyed when they write
FEEDBACK_SOURCES = {"web": "web-widget", "app": "app-widget", "email": "email-survey"}


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
    return MODELS[text.weighted(rng, weights)]


def _judge(
    rng: np.random.Generator,
    model: ModelProfile,
    intent: IntentProfile,
    release: PromptRelease,
    frustrated: bool,
) -> tuple[dict[str, Any], str | None]:
    """What goes wrong in this turn: the truth record and the kind of harm, if any."""
    p_hall = model.hallucination * intent.hallucination * release.hallucination.get(intent.name, 1)
    hallucination = bool(rng.random() < min(p_hall, 0.9))
    harm_kind, severity = None, None
    if rng.random() < model.harm * intent.harm:
        harm_kind, severity, _ = text.weighted(rng, {k: k[2] for k in intent.harm_kinds})
    polite, neutral, impolite = model.tone
    impolite *= 1.6 if frustrated else 1.0
    tone = text.weighted(rng, {"polite": polite, "neutral": neutral, "impolite": impolite})
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
    return text.weighted(rng, dict(zip(OUTCOMES, p.tolist(), strict=True)))


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


def _turn(rng: np.random.Generator, rid: str, at: datetime, start: datetime) -> _Turn:
    """One response: who asked what, which model answered, what went wrong, what it cost."""
    day = (at - start) // timedelta(days=1)
    tenant = TENANTS[text.weighted(rng, {i: t.share for i, t in enumerate(TENANTS)})]
    segment = text.weighted(rng, tenant.segments)
    intent = INTENTS[text.weighted(rng, tenant.intents)]
    model = _route(rng, tenant, segment)
    release = _prompt_release(tenant, day)
    channel, locale = text.weighted(rng, CHANNELS), text.weighted(rng, LOCALES)
    frustrated = bool(rng.random() < FRUSTRATED)
    facts = text.TENANT_FACTS[tenant.name]
    exchange = text.BUILDERS[intent.name](rng, facts, at)
    pii = None
    if rng.random() < intent.pii:
        pii = text.pii_sentence(rng, text.pick(rng, intent.pii_kinds))
    prompt = text.dress_prompt(rng, exchange.prompt, frustrated=frustrated, pii=pii)
    judged, harm_kind = _judge(rng, model, intent, release, frustrated)
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
        "model_version": _version(model.versions, day),
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
        source = text.pick(rng, ("crm", "helpdesk"))
        events.append(("outcome", turn.outcome, rng.lognormal(np.log(480), 1.0), source))
    if rng.random() < (0.2 if turn.bad else 0.08):
        rating = "down" if rng.random() < (0.7 if turn.bad else 0.2) else "up"
        source = FEEDBACK_SOURCES[channel]
        events.append(("rating", rating, rng.lognormal(np.log(3), 0.8), source))
    if turn.correction and rng.random() < 0.3:
        source = text.pick(rng, ("web-widget", "agent-console"))
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


def generate_demo(n: int = 2000, *, rng: np.random.Generator, start: datetime) -> DemoTraffic:
    """``n`` responses over the 14 days after ``start`` (timezone-aware), with feedback and truth.

    Response ids (``demo-000001`` ...) follow creation time. About 25% of responses get late
    feedback; every feedback event points at a generated response and comes after it.
    """
    if n < 0:
        raise UsageError(f"n must be zero or more, got {n}")
    if start.tzinfo is None or start.utcoffset() != timedelta(0):
        raise UsageError(f"start must be a timezone-aware UTC datetime, got {start!r}")
    times = _arrival_times(n, rng, start)
    turns = [_turn(rng, f"demo-{i:06d}", at, start) for i, at in enumerate(times, 1)]
    events = [event for turn in turns for event in _feedback_for(rng, turn)]
    events.sort(key=lambda e: (e["created_at"], e["response_id"], e["kind"]))
    feedback = [{"id": f"fb-{i:06d}", **event} for i, event in enumerate(events, 1)]
    truth = {t.record["id"]: t.truth for t in turns}
    return DemoTraffic([t.record for t in turns], feedback, truth)


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
