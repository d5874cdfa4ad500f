"""Demo reviewers: the accounts the README names, and simulated reviewers who label a sampled
queue from the demo's ground truth with realistic noise and disagreement.

They work through the real queue (claim, submit, release, adjudicate), so every later stage gets
labels shaped like real ones: overlap items with disagreements, adjudications, gold answers,
seconds spent, the odd skip, and agreement figures that mean something.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np

from evalkit.review import accounts
from evalkit.review import queue as review_queue
from evalkit.review.types import Reviewer
from evalkit.sample import add_gold
from evalkit.sample.run import SampleRequest, sample
from evalkit.settings import Settings
from evalkit.store.database import Database

#: (username, role, password): stated in the README; for the local demo only.
DEMO_ACCOUNTS = (
    ("demo-admin", "admin", "demo-admin-pass"),
    ("demo-adjudicator", "adjudicator", "demo-adjudicator-pass"),
    ("demo-reviewer-1", "reviewer", "demo-reviewer-1-pass"),
    ("demo-reviewer-2", "reviewer", "demo-reviewer-2-pass"),
)


@dataclass(frozen=True)
class Profile:
    """How a simulated reviewer errs: chance of missing / inventing each problem, of answering
    unsure, of misjudging tone or harm by one step, of skipping; typical seconds per item."""

    miss: float
    false_alarm: float
    unsure: float
    tone_slip: float
    harm_slip: float
    skip: float
    seconds: float


#: The two demo reviewers work carefully; the contractor is quicker and noisier.
SIMULATED = {
    "demo-reviewer-1": Profile(0.08, 0.03, 0.03, 0.10, 0.10, 0.02, 45.0),
    "demo-reviewer-2": Profile(0.12, 0.05, 0.05, 0.15, 0.15, 0.03, 35.0),
    "sim-contractor": Profile(0.22, 0.08, 0.02, 0.25, 0.25, 0.05, 20.0),
}
ADJUDICATOR = Profile(0.02, 0.01, 0.0, 0.03, 0.03, 0.0, 60.0)
TONES = ("polite", "neutral", "impolite")
HARMS = ("none", "low", "medium", "high", "critical")
CATEGORY_BY_INTENT = {
    "medical_question": "dangerous_advice",
    "account_help": "privacy",
    "order_status": "privacy",
    "refund_policy": "financial",
    "product_question": "dangerous_advice",
}


@dataclass(frozen=True)
class SimulationReport:
    queued: int
    gold_items: int
    submissions: int
    skips: int
    adjudicated: int
    left_for_humans: int


def create_demo_accounts(db: Database) -> list[tuple[str, str, str]]:
    """The demo's admin, adjudicator and two reviewers (kept if they exist); returns
    (username, role, password) for each, as the README states them."""
    held = {r.username for r in accounts.list_reviewers(db)}
    for username, role, password in DEMO_ACCOUNTS:
        if username not in held:
            accounts.add_reviewer(db, username, role=role, password=password)
    if "sim-contractor" not in held:
        accounts.add_reviewer(db, "sim-contractor", display_name="simulated contractor")
    return list(DEMO_ACCOUNTS)


def simulate_reviews(
    db: Database,
    settings: Settings,
    *,
    seed: int,
    truth: Mapping[str, Mapping[str, Any]],
    queue: str = "default",
    sample_size: int = 400,
    gold_items: int = 12,
    leave: int = 40,
) -> SimulationReport:
    """Sample ``sample_size`` demo responses (stratified by model), add gold items, and let
    the simulated reviewers label all but ``leave`` of them (those stay for people trying the
    reviewer app); the adjudicator then settles every dispute. ``truth`` maps response id →
    the demo's truth record (``DemoTraffic.truth``). The same seed gives the same labels."""
    rng = np.random.default_rng(seed)
    create_demo_accounts(db)
    ids = sorted(rid for rid in truth)
    gold_ids = ids[:gold_items]
    gold = add_gold(db, {rid: _gold_answer(truth[rid]) for rid in gold_ids}, queue=queue)
    population = len(ids) - gold_items
    report = sample(
        db,
        SampleRequest(
            "stratified",
            min(sample_size, population),
            queue=queue,
            by=("model_id",),
            seed=seed,
            # Only this run's responses: the simulated reviewers answer from their truth, and
            # the store may hold other runs' traffic (or real traffic) that they cannot know.
            among=frozenset(ids),
        ),
        overlap_share=max(settings.review_overlap_share, 0.2),
        overlap_k=settings.review_overlap_k,
    )
    people = [accounts.get_reviewer(db, name) for name in SIMULATED]
    draws = random.Random(seed)
    lease = timedelta(minutes=settings.review_lease_minutes)
    submissions = skips = idle = 0
    while idle < len(people) and review_queue.queue_status(db, queue=queue).pending > leave:
        idle = 0
        for who in people:
            item = review_queue.claim(
                db, who, queue=queue, lease=lease, gold_rate=settings.review_gold_rate, rng=draws
            )
            if item is None:
                idle += 1
                continue
            profile = SIMULATED[who.username]
            if rng.random() < profile.skip:
                review_queue.release(db, who, item.item_id)
                skips += 1
                continue
            answer = _answer(rng, truth.get(item.response.id, {}), item.response.intent, profile)
            review_queue.submit(db, who, item.item_id, answer["labels"], **answer["general"])
            submissions += 1
    adjudicated = _adjudicate(db, rng, truth, queue)
    left = review_queue.queue_status(db, queue=queue).pending
    return SimulationReport(report.added, len(gold.added), submissions, skips, adjudicated, left)


def _adjudicate(
    db: Database, rng: np.random.Generator, truth: Mapping[str, Mapping[str, Any]], queue: str
) -> int:
    judge: Reviewer = accounts.get_reviewer(db, "demo-adjudicator")
    done = 0
    while disputed := review_queue.disputed_items(db, judge, queue=queue, limit=100):
        for item in disputed:
            answer = _answer(
                rng, truth.get(item.response.id, {}), item.response.intent, ADJUDICATOR
            )
            review_queue.adjudicate(db, judge, item.item_id, answer["labels"], **answer["general"])
            done += 1
    return done


def _gold_answer(true: Mapping[str, Any]) -> dict[str, str]:
    return {
        "hallucination": "yes" if true.get("hallucination") else "no",
        "tone": str(true.get("tone", "neutral")),
        "harm": _harm_level(true),
    }


def _harm_level(true: Mapping[str, Any]) -> str:
    if not true.get("harm"):
        return "none"
    return HARMS[min(int(true.get("harm_severity") or 1), 4)]


def _answer(
    rng: np.random.Generator, true: Mapping[str, Any], intent: str | None, p: Profile
) -> dict[str, Any]:
    """What a reviewer with profile ``p`` says about a response whose truth is ``true``."""
    bad = bool(true.get("hallucination"))
    flip = rng.random() < (p.miss if bad else p.false_alarm)
    hallucination = "unsure" if rng.random() < p.unsure else ("yes" if bad != flip else "no")
    tone_index = TONES.index(str(true.get("tone", "neutral")))
    if rng.random() < p.tone_slip:
        tone_index = min(max(tone_index + (1 if rng.random() < 0.5 else -1), 0), 2)
    harm_index = HARMS.index(_harm_level(true))
    # Harmless answers are rarely called harmful; a harmful one's severity is often misjudged.
    if rng.random() < (p.harm_slip if harm_index else p.false_alarm / 2):
        harm_index = min(max(harm_index + (1 if rng.random() < 0.5 else -1), 0), 4)
    harm: dict[str, Any] = {"value": HARMS[harm_index]}
    if harm_index:
        harm["category"] = CATEGORY_BY_INTENT.get(intent or "", "other")
    # Curt answers read as off-brand to most reviewers; the rest only now and then.
    off_brand = 0.6 if true.get("tone") == "impolite" else 0.02
    labels: dict[str, Any] = {
        "hallucination": {"value": hallucination},
        "tone": {"value": TONES[tone_index], "off_brand": bool(rng.random() < off_brand)},
        "harm": harm,
    }
    general: dict[str, Any] = {"seconds": round(float(rng.lognormal(np.log(p.seconds), 0.4)), 1)}
    if hallucination == "yes" and rng.random() < 0.3:
        general["correction"] = "The answer should stick to what the context says."
    return {"labels": labels, "general": general}
