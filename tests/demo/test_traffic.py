"""The demo traffic carries the signal the rest of the product is demonstrated on.

Each test states a property a later stage relies on (rates, orderings, grounding, PII, feedback
links) and checks it on generated data, so a change to a profile or a template that breaks the
demo's story fails here rather than in a dashboard.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from evalkit.capture.validate import Limits, parse_feedback, parse_response
from evalkit.demo import DemoTraffic, generate_demo, write_demo
from evalkit.demo.profiles import INTENTS, MODELS, OUTCOMES, RAG_INTENTS, TENANTS
from evalkit.demo.text import CLOSERS, HARM_TEXT, OPENERS
from evalkit.errors import UsageError
from evalkit.records import TONE_VALUES

START = datetime(2024, 6, 3, tzinfo=UTC)
LIMITS = Limits(max_field_chars=200_000)
ALWAYS_PRESENT = {
    "id",
    "created_at",
    "tenant",
    "model_id",
    "model_version",
    "prompt_version",
    "intent",
    "user_segment",
    "prompt",
    "response",
    "latency_ms",
    "input_tokens",
    "output_tokens",
    "cost",
    "confidence",
    "metadata",
}
OPTIONAL = {"context", "outcome"}


def parse(stamp: str) -> datetime:
    assert stamp.endswith("Z"), stamp
    return datetime.fromisoformat(stamp[:-1] + "+00:00")


@pytest.fixture(scope="module")
def traffic() -> DemoTraffic:
    return generate_demo(2000, rng=np.random.default_rng(7), start=START)


def rate(rows: list[dict[str, Any]], head: str) -> float:
    if head == "impolite":
        return float(np.mean([r["tone"] == "impolite" for r in rows]))
    return float(np.mean([r[head] for r in rows]))


def truth_by(traffic: DemoTraffic, field: str) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in traffic.responses:
        groups[record[field]].append(traffic.truth[record["id"]])
    return groups


# --- determinism and files ---------------------------------------------------------------------


def test_same_seed_gives_byte_identical_files_and_another_seed_does_not(tmp_path):
    def files(seed: int, name: str) -> dict[str, bytes]:
        traffic = generate_demo(300, rng=np.random.default_rng(seed), start=START)
        paths = write_demo(traffic, tmp_path / name)
        return {key: path.read_bytes() for key, path in paths.items()}

    first, again, other = files(7, "a"), files(7, "b"), files(8, "c")
    assert set(first) == {"responses", "feedback", "truth"}
    assert first == again
    assert all(first[key] != other[key] for key in first)


def test_written_files_hold_the_traffic_one_object_per_line(tmp_path, traffic):
    paths = write_demo(traffic, tmp_path / "nested" / "demo")
    assert {p.name for p in paths.values()} == {"traffic.jsonl", "feedback.jsonl", "truth.jsonl"}

    def read(key: str) -> list[dict[str, Any]]:
        lines = paths[key].read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines]

    assert read("responses") == traffic.responses
    assert read("feedback") == traffic.feedback
    truth = read("truth")
    assert {row.pop("id"): row for row in truth} == traffic.truth


def test_rejects_naive_start_and_negative_n():
    rng = np.random.default_rng(0)
    with pytest.raises(UsageError, match="timezone-aware"):
        generate_demo(10, rng=rng, start=datetime(2024, 6, 3))
    with pytest.raises(UsageError, match="zero or more"):
        generate_demo(-1, rng=rng, start=START)
    assert generate_demo(0, rng=rng, start=START) == DemoTraffic([], [], {})


# --- record shape ------------------------------------------------------------------------------


def test_every_record_has_the_ingest_fields_with_valid_types_and_ranges(traffic):
    assert len(traffic.responses) == 2000
    assert len({r["id"] for r in traffic.responses}) == 2000
    for r in traffic.responses:
        assert ALWAYS_PRESENT <= set(r) <= ALWAYS_PRESENT | OPTIONAL, r["id"]
        assert re.fullmatch(r"demo-\d{6}", r["id"])
        assert r["model_id"] in MODELS and r["intent"] in INTENTS
        assert r["tenant"] in {t.name for t in TENANTS}
        assert r["user_segment"] in {"free", "pro", "enterprise"}
        assert ("context" in r) == (r["intent"] in RAG_INTENTS)
        assert all(isinstance(r[k], str) and r[k] for k in ("prompt", "response"))
        assert isinstance(r["latency_ms"], float) and r["latency_ms"] > 0
        assert isinstance(r["input_tokens"], int) and r["input_tokens"] > 0
        assert isinstance(r["output_tokens"], int) and r["output_tokens"] > 0
        assert isinstance(r["cost"], float) and r["cost"] > 0
        assert isinstance(r["confidence"], float) and 0 <= r["confidence"] <= 1
        assert r.get("outcome", "converted") in OUTCOMES
        assert r["metadata"]["channel"] in {"web", "app", "email"}
        assert re.fullmatch(r"en-[A-Z]{2}", r["metadata"]["locale"])
        # What ingest will build from it: the demo must not drift from the accepted shape.
        parse_response(r, received_at=START, limits=LIMITS)
    missing = np.mean(["outcome" not in r for r in traffic.responses])
    assert 0.25 <= missing <= 0.35


def test_versions_change_during_the_period(traffic):
    versions = defaultdict(set)
    for r in traffic.responses:
        versions[r["model_id"]].add(r["model_version"])
    assert sum(len(v) for v in versions.values()) > len(versions)
    assert {r["prompt_version"] for r in traffic.responses} == {"support-v12", "support-v13"}


def test_created_at_spreads_over_fourteen_days_with_a_daily_curve(traffic):
    times = [parse(r["created_at"]) for r in traffic.responses]
    assert all(START <= t < START + timedelta(days=14) for t in times)
    assert times == sorted(times), "ids are assigned in creation order"
    assert {(t - START).days for t in times} == set(range(14))
    per_hour = Counter(t.hour for t in times)
    assert max(per_hour.values()) >= 2.5 * min(per_hour.values())


def test_truth_covers_every_response_consistently(traffic):
    assert set(traffic.truth) == {r["id"] for r in traffic.responses}
    for row in traffic.truth.values():
        assert set(row) == {"hallucination", "harm", "harm_severity", "tone"}
        assert isinstance(row["hallucination"], bool) and isinstance(row["harm"], bool)
        assert row["tone"] in TONE_VALUES
        if row["harm"]:
            assert row["harm_severity"] in (1, 2, 3)
        else:
            assert row["harm_severity"] is None
    severities = Counter(r["harm_severity"] for r in traffic.truth.values() if r["harm"])
    assert set(severities) == {1, 2, 3}


# --- feedback ----------------------------------------------------------------------------------


def test_feedback_points_at_generated_responses_and_arrives_later(traffic):
    responses = {r["id"]: r for r in traffic.responses}
    assert len({f["id"] for f in traffic.feedback}) == len(traffic.feedback)
    for f in traffic.feedback:
        assert re.fullmatch(r"demo-fb-\d{6}", f["id"])
        assert f["response_id"] in responses
        assert parse(f["created_at"]) > parse(responses[f["response_id"]]["created_at"])
        assert f["source"]
        event, _ = parse_feedback(f, received_at=START, limits=LIMITS)
        if event.kind.value == "outcome":
            assert f["value"] in OUTCOMES
            assert "outcome" not in responses[f["response_id"]], "outcome arrives once"
        elif event.kind.value == "rating":
            assert f["value"] in ("up", "down")
        else:
            assert event.kind.value == "correction"
            assert traffic.truth[f["response_id"]]["hallucination"]
    assert {f["kind"] for f in traffic.feedback} == {"outcome", "rating", "correction"}
    covered = len({f["response_id"] for f in traffic.feedback}) / len(responses)
    assert 0.18 <= covered <= 0.32


def test_corrections_restate_the_context(traffic):
    responses = {r["id"]: r for r in traffic.responses}
    corrections = [f for f in traffic.feedback if f["kind"] == "correction"]
    assert len(corrections) >= 10
    for f in corrections:
        context = responses[f["response_id"]]["context"]
        assert any(sentence in context for sentence in f["value"].split(": ", 1)[1:]), f["value"]


def test_bad_responses_fare_worse_in_outcomes_and_ratings(traffic):
    def bad(rid: str) -> bool:
        t = traffic.truth[rid]
        return t["hallucination"] or t["harm"] or t["tone"] == "impolite"

    outcomes: dict[bool, list[str]] = defaultdict(list)
    for r in traffic.responses:
        if "outcome" in r:
            outcomes[bad(r["id"])].append(r["outcome"])
    for f in traffic.feedback:
        if f["kind"] == "outcome":
            outcomes[bad(f["response_id"])].append(f["value"])

    def failed(values: list[str]) -> float:
        return float(np.mean([v in ("dropped", "escalated") for v in values]))

    assert failed(outcomes[True]) > failed(outcomes[False]) + 0.15
    ratings: dict[bool, list[bool]] = defaultdict(list)
    for f in traffic.feedback:
        if f["kind"] == "rating":
            ratings[bad(f["response_id"])].append(f["value"] == "down")
    assert np.mean(ratings[True]) > np.mean(ratings[False]) + 0.3


# --- signal ------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [7, 11, 2024])
def test_base_rates_fall_in_the_stated_bands(seed):
    truth = list(generate_demo(2000, rng=np.random.default_rng(seed), start=START).truth.values())
    assert 0.08 <= rate(truth, "hallucination") <= 0.15
    assert 0.02 <= rate(truth, "harm") <= 0.04
    assert 0.05 <= rate(truth, "impolite") <= 0.10


def test_models_differ_in_the_intended_order(traffic):
    by_model = truth_by(traffic, "model_id")
    hall = {m: rate(rows, "hallucination") for m, rows in by_model.items()}
    assert hall["atlas-xl"] + 0.03 < hall["support-ft"] < hall["swift-mini"] - 0.03
    rude = {m: rate(rows, "impolite") for m, rows in by_model.items()}
    assert rude["support-ft"] > 2 * max(rude["atlas-xl"], rude["swift-mini"])
    harm = {m: rate(rows, "harm") for m, rows in by_model.items()}
    assert harm["atlas-xl"] < min(harm["support-ft"], harm["swift-mini"])
    latency: dict[str, list[float]] = defaultdict(list)
    for r in traffic.responses:
        latency[r["model_id"]].append(r["latency_ms"])
    median = {m: np.median(v) for m, v in latency.items()}
    assert median["atlas-xl"] > 2 * max(median["swift-mini"], median["support-ft"])


def test_prompt_release_regresses_refund_answers_only(traffic):
    groups: dict[tuple[bool, str], list[bool]] = defaultdict(list)
    for r in traffic.responses:
        refund = r["intent"] == "refund_policy"
        groups[refund, r["prompt_version"]].append(traffic.truth[r["id"]]["hallucination"])
    refund_v12, refund_v13 = (np.mean(groups[True, v]) for v in ("support-v12", "support-v13"))
    rest_v12, rest_v13 = (np.mean(groups[False, v]) for v in ("support-v12", "support-v13"))
    assert refund_v13 > 2 * refund_v12
    assert abs(rest_v13 - rest_v12) < 0.04


UNITS = r"business days?|days?|hours?|minutes?|seconds?|nights?|years?|tablets?|ml|mg|g|m"
QUANTITY = re.compile(rf"\b(\d+)[ -]({UNITS})\b")
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
DATE = re.compile(rf"\b(?:{MONTHS}) \d{{1,2}}\b")
SPECIFICS = (
    DATE,
    re.compile(r"\bIP[X\d]\d\b"),
    re.compile(r"\$\d+"),
    re.compile(r"\b[A-Z][a-z]+(?: > [A-Z][\w-]*)+"),
)
STATUSES = (
    "label created",
    "in transit",
    "out for delivery",
    "delivered",
    "delayed",
    "awaiting pickup",
    "held at customs",
    "returned to sender",
)


def claims(text: str) -> set[str]:
    """The checkable specifics a text states: quantities, dates, IP ratings, prices, menu paths,
    delivery statuses. Written independently of the generator's templates."""
    found = {f"{n} {u[:-1] if u.endswith('s') else u}" for n, u in QUANTITY.findall(text)}
    found |= {m for pattern in SPECIFICS for m in pattern.findall(text)}
    found |= {s for s in STATUSES if re.search(rf"\b{s}\b", text.lower())}
    return found


def test_claims_extractor_reads_units_and_statuses():
    assert claims("Open Settings > Security > Two-factor now.") == {
        "Settings > Security > Two-factor"
    }
    text = "In transit; a 2-year warranty, 2 years, 5 business days, June 4, $10, IPX7, A > B."
    assert claims(text) == {
        "2 year",
        "5 business day",
        "June 4",
        "$10",
        "IPX7",
        "in transit",
    }


def test_rag_answers_are_grounded_and_hallucinations_contradict_their_context(traffic):
    checked = Counter()
    for r in traffic.responses:
        if "context" not in r:
            continue
        supported = claims(r["context"]) | claims(r["prompt"])
        unsupported = claims(r["response"]) - supported
        if traffic.truth[r["id"]]["hallucination"]:
            assert unsupported, (r["id"], r["context"], r["response"])
        else:
            assert not unsupported, (r["id"], unsupported, r["context"], r["response"])
        checked[r["intent"], traffic.truth[r["id"]]["hallucination"]] += 1
    assert all(checked[intent, True] >= 5 for intent in RAG_INTENTS), checked


def test_refund_hallucinations_misstate_the_policy(traffic):
    """The demo's flagship example: the context says N days, an invented answer says otherwise."""
    wrong = 0
    for r in traffic.responses:
        if r["intent"] != "refund_policy" or not traffic.truth[r["id"]]["hallucination"]:
            continue
        window = re.search(r"within (\d+) days of delivery", r["context"])
        assert window
        stated = re.findall(r"(\d+)[ -]days?\b", r["response"])
        wrong += bool(stated) and window.group(1) not in stated
    assert wrong >= 20


def test_confidence_is_only_weakly_related_to_correctness(traffic):
    conf = np.array([r["confidence"] for r in traffic.responses])
    right = np.array([not traffic.truth[r["id"]]["hallucination"] for r in traffic.responses])
    ranks = conf.argsort().argsort() + 1
    n_right, n_wrong = right.sum(), (~right).sum()
    auc = (ranks[right].sum() - n_right * (n_right + 1) / 2) / (n_right * n_wrong)
    assert 0.52 < auc < 0.72


def test_tokens_cost_and_latency_follow_the_text_and_the_model(traffic):
    chars = np.array([len(r["response"]) for r in traffic.responses])
    out = np.array([r["output_tokens"] for r in traffic.responses])
    assert np.corrcoef(chars, out)[0, 1] > 0.9
    for r in traffic.responses:
        price_in, price_out = MODELS[r["model_id"]].price
        expected = (r["input_tokens"] * price_in + r["output_tokens"] * price_out) / 1e6
        assert r["cost"] == pytest.approx(expected, abs=1e-8)
    latency = np.array([r["latency_ms"] for r in traffic.responses])
    assert np.percentile(latency, 99) > 4 * np.percentile(latency, 50)


PII = {
    "email": re.compile(r"\b[\w.+-]+@example\.(?:com|org)\b"),
    "phone": re.compile(r"\+1-202-555-01\d\d\b"),
    "card": re.compile(r"\b(?:\d{4} ){3}\d{4}\b"),
    "ip": re.compile(r"\b\d{1,3}(?:\.\d{1,3}){3}\b"),
}


def luhn_ok(number: str) -> bool:
    digits = [int(d) for d in number.replace(" ", "")][::-1]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def test_about_five_percent_of_prompts_carry_pii_for_the_redactor(traffic):
    kinds: Counter[str] = Counter()
    with_pii = 0
    for r in traffic.responses:
        found = {kind for kind, pattern in PII.items() if pattern.search(r["prompt"])}
        with_pii += bool(found)
        kinds.update(found)
        for card in PII["card"].findall(r["prompt"]):
            assert luhn_ok(card), card
        assert not any(p.search(r.get("context", "")) for p in PII.values())
    assert 0.03 <= with_pii / len(traffic.responses) <= 0.08
    assert set(kinds) == set(PII)


def test_texts_are_varied_not_near_duplicates(traffic):
    def skeleton(text: str) -> str:
        return re.sub(r"\d+", "#", text.lower())

    prompts = [r["prompt"] for r in traffic.responses]
    responses = [r["response"] for r in traffic.responses]
    assert len(set(prompts)) / len(prompts) > 0.85
    assert len(set(responses)) / len(responses) > 0.8
    # Beyond order numbers and dates: distinct wording, not one template with new digits.
    assert len({skeleton(p) for p in prompts}) > 1400
    assert len({skeleton(r) for r in responses}) > 1400


def test_tenants_and_segments_have_skewed_frequencies(traffic):
    tenants = Counter(r["tenant"] for r in traffic.responses)
    segments = Counter(r["user_segment"] for r in traffic.responses)
    intents = Counter(r["intent"] for r in traffic.responses)
    assert len(tenants) == len(TENANTS)
    assert tenants.most_common()[0][1] > 1.8 * tenants.most_common()[-1][1]
    assert segments["free"] > segments["pro"] > segments["enterprise"] > 0
    assert intents["order_status"] > 3 * intents["medical_question"] > 0
    medical = {r["tenant"] for r in traffic.responses if r["intent"] == "medical_question"}
    assert medical == {"harbor-health"}


def test_tone_in_the_truth_is_visible_in_the_text(traffic):
    """Reviewers and the classifier see text, not truth: each tone must leave its marks."""
    rude = (*OPENERS["impolite"], *CLOSERS["impolite"], *HARM_TEXT["disparage"])
    kind = (*OPENERS["polite"], *(c.split("{")[0] for c in CLOSERS["polite"]))
    for r in traffic.responses:
        tone = traffic.truth[r["id"]]["tone"]
        assert any(m in r["response"] for m in rude) == (tone == "impolite"), r["response"]
        assert any(m in r["response"] for m in kind) == (tone == "polite"), r["response"]
