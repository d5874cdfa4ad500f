"""Who is in the demo traffic and how each behaves: models, intents, tenants, prompt releases.

These tables are the demo's ground truth in aggregate: a stage that estimates a hallucination
rate per model, finds the ``support-v13`` regression or a tenant's drift is right when it
recovers what is written here. ``traffic`` draws every record from them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

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
    #: version -> hallucination multiplier: a release that regresses (watch must turn it red)
    regressions: tuple[tuple[str, float], ...] = ()


# fmt: off
MODELS = {m.model_id: m for m in (
    ModelProfile("atlas-xl", versions=((0, "atlas-xl-2024-05"),), style="thorough",
                 hallucination=0.045, harm=0.008, tone=(0.72, 0.26, 0.02),
                 latency_ms=(900.0, 28.0, 0.35), price=(5.0, 15.0), confidence=(9.0, 2.0)),
    ModelProfile("swift-mini", versions=((0, "swift-mini-0.9.3"), (5, "swift-mini-0.9.4"),
                                         (10, "swift-mini-0.9.5")),
                 style="plain", hallucination=0.16, harm=0.042, tone=(0.55, 0.40, 0.05),
                 latency_ms=(250.0, 6.0, 0.5), price=(0.15, 0.60), confidence=(10.0, 1.6),
                 regressions=(("swift-mini-0.9.5", 2.0),)),
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
#: The drift event: from this day, a share of product questions in every tenant are about a new
#: topic (a charger recall) that the reference weeks never saw; watch's embedding drift and the
#: prompt-length PSI of that intent should find it.
DRIFT_DAY, DRIFT_INTENT, DRIFT_SHARE = 9, "product_question", 0.5
LOCALES = {"en-US": 0.62, "en-GB": 0.16, "en-CA": 0.1, "en-AU": 0.07, "en-IN": 0.05}
CHANNELS = {"web": 0.55, "app": 0.35, "email": 0.1}
#: Relative traffic per UTC hour: quiet overnight in the Americas, peaking in their afternoon.
HOURLY = np.array(
    [5, 4, 3, 2, 2, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10, 10, 10, 9, 9, 8, 7, 6, 6], dtype=float
)
WEEKEND = 0.7
FRUSTRATED = 0.15  # share of users already annoyed when they write
FEEDBACK_SOURCES = {"web": "web-widget", "app": "app-widget", "email": "email-survey"}
