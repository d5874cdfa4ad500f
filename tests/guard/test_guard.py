"""The in-process guard: scores, policy, shadow mode, failure modes, limits, recording."""

from __future__ import annotations

import time

import pytest

from evalkit import Guard
from evalkit.guard import GuardPolicy
from evalkit.guard.recording import VerdictRecorder
from evalkit.records import utcnow
from evalkit.settings import Settings
from evalkit.store import queries
from evalkit.store.classifiers import recent_verdicts
from evalkit.store.database import Database

HARSH = "Read the manual, it is obviously in there. I'm not going to repeat myself."


@pytest.fixture(scope="module")
def guard(trained):
    with Guard.load(trained.path) as loaded:
        yield loaded


def variant(guard: Guard, **policy) -> Guard:
    """The loaded artifact under another policy (loading it again takes seconds)."""
    return Guard(guard.artifact, GuardPolicy.from_metadata(guard.artifact.metadata, **policy))


def test_check_scores_every_head_and_decides(guard, trained):
    verdict = guard.check(prompt="Where is my order?", response="It ships tomorrow.")
    assert sorted(verdict.scores) == ["hallucination", "harm", "impolite"]
    assert all(0 <= s <= 1 for s in verdict.scores.values())
    assert verdict.action in ("allow", "review", "block")
    assert verdict.classifier_version == trained.version and verdict.latency_ms > 0
    assert verdict.error is None and not verdict.shadow


def test_thresholds_decide_the_action(guard):
    always = variant(guard, block={"impolite": 0.0})
    assert (always.check(response=HARSH).action, always.check(response=HARSH).heads) == (
        "block",
        ("impolite",),
    )
    review = variant(guard, block={}, review={"hallucination": 0.0, "harm": 1.0, "impolite": 1.0})
    assert review.check(response="Fine.").action == "review"


def test_shadow_mode_never_blocks_but_says_what_it_would_do(guard):
    shadow = variant(guard, shadow=True, block={"impolite": 0.0})
    verdict = shadow.check(response=HARSH)
    assert (verdict.action, verdict.decided, verdict.shadow) == ("allow", "block", True)


class _Broken:
    def predict_scores(self, examples):
        raise RuntimeError("model exploded")


class _Slow:
    def predict_scores(self, examples):
        time.sleep(0.5)
        return {"harm": [0.0] * len(examples)}


@pytest.mark.parametrize(("mode", "action"), [("open", "allow"), ("closed", "block")])
def test_a_model_error_is_answered_by_the_fail_mode(guard, mode, action):
    broken = variant(guard, fail_mode=mode)
    broken.scorer = _Broken()  # fault injection: the model itself fails
    verdict = broken.check(response="anything")
    assert (verdict.action, verdict.scores) == (action, {})
    assert "model exploded" in verdict.error


class _NotANumber:
    def predict_scores(self, examples):
        return {"harm": [float("nan")] * len(examples)}


@pytest.mark.parametrize(("mode", "action"), [("open", "allow"), ("closed", "block")])
def test_a_score_that_is_not_a_number_is_a_model_error(guard, mode, action):
    broken = variant(guard, fail_mode=mode)
    broken.scorer = _NotANumber()
    verdict = broken.check(response="anything")
    assert (verdict.action, verdict.scores) == (action, {})
    assert "not a finite number" in verdict.error


@pytest.mark.parametrize(("mode", "action"), [("open", "allow"), ("closed", "block")])
def test_a_timeout_is_answered_by_the_fail_mode_in_time(guard, mode, action):
    slow = variant(guard, fail_mode=mode, timeout_ms=50)
    slow.scorer = _Slow()
    started = time.perf_counter()
    verdict = slow.check(response="anything")
    assert time.perf_counter() - started < 0.4
    assert verdict.action == action and "longer than 50 ms" in verdict.error
    slow.close()


class _Stuck:
    """A model that has become slow: every call takes ``seconds``; counts the calls that ran."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.ran = seconds, 0

    def predict_scores(self, examples):
        self.ran += 1
        time.sleep(self.seconds)
        return {"harm": [0.0] * len(examples)}


def test_checks_past_their_timeout_hold_a_bounded_number_of_threads(guard):
    from evalkit.guard.guard import SCORING_SLOTS

    slow = variant(guard, fail_mode="closed", timeout_ms=20)
    slow.scorer = stuck = _Stuck(0.6)
    started = time.perf_counter()
    verdicts = [slow.check(response=f"text {i}") for i in range(3 * SCORING_SLOTS)]
    # every check answered by the fail mode, none waiting behind the overdue ones
    assert time.perf_counter() - started < 3 * SCORING_SLOTS * 0.02 + 0.5
    assert {v.action for v in verdicts} == {"block"}
    assert "longer than 20 ms" in verdicts[0].error
    assert "scoring threads are held" in verdicts[-1].error
    # only as many ran as there are threads: the rest were never started, not queued
    assert stuck.ran == SCORING_SLOTS
    time.sleep(0.8)  # the overdue ones end and free their threads: checks score again
    assert stuck.ran == SCORING_SLOTS  # and no abandoned check ran after them
    slow.scorer = _Stuck(0.0)
    later = slow.check(response="text")
    assert later.error is None and later.scores == {"harm": 0.0}
    slow.close()


def test_long_inputs_are_cut_to_the_limit(guard):
    cut = variant(guard, max_chars=100)
    long, short = cut.check(response="word " * 1000), cut.check(response="word " * 10)
    assert long.truncated and not short.truncated and long.scores


def test_policy_refuses_nonsense():
    with pytest.raises(Exception, match="fail_mode"):
        GuardPolicy(fail_mode="sideways")
    with pytest.raises(Exception, match="in \\[0, 1\\]"):
        GuardPolicy(block={"harm": 3.0})


def test_check_many_takes_records_and_mappings(guard, trained):
    examples = trained.sets["harm"].examples[:40]
    verdicts = guard.check_many(examples)
    assert [v.response_id for v in verdicts] == [ex.id for ex in examples]
    one = guard.check(
        prompt=examples[0].prompt,
        response=examples[0].response,
        context=examples[0].context,
        response_id=examples[0].id,
        confidence=examples[0].confidence,
    )
    # Batches of more than 32 take sklearn's path, single checks the compiled one: same answer.
    assert one.scores == pytest.approx(verdicts[0].scores, abs=1e-5)


def test_flagged_verdicts_are_recorded_and_queued(guard, store_url):
    from evalkit.capture.ingest import Ingestor

    db = Database.open(store_url)
    settings = Settings(database_url=store_url, _env_file=None)  # type: ignore[call-arg]
    Ingestor(db, settings).ingest_records(
        [{"id": "r-1", "prompt": "Help?", "response": HARSH, "created_at": utcnow().isoformat()}]
    )
    recording = Guard(
        guard.artifact,
        GuardPolicy.from_metadata(guard.artifact.metadata, block={"impolite": 0.0}),
        recorder=VerdictRecorder(store_url),
    )
    verdict = recording.check(response=HARSH, response_id="r-1")
    recording.check(response="Happy to help!", response_id="r-2", meta={})
    assert verdict.action == "block"
    recording.close()
    rows = recent_verdicts(db)
    assert {r["response_id"] for r in rows} == {"r-1", "r-2"}
    assert recording.recorder is not None and recording.recorder.stats.enqueued == 1
    assert queries.get_response(db, "r-1") is not None
    items = _review_items(db)
    assert [(i["response_id"], i["strategy"]) for i in items] == [("r-1", "flagged")]
    assert items[0]["priority"] > 0 and items[0]["due_at"] is not None
    db.dispose()


def _review_items(db):
    from evalkit.store.tables import REVIEW_ITEMS

    with db.reader() as conn:
        return [dict(r._mapping) for r in conn.execute(REVIEW_ITEMS.select())]


def test_the_guard_keeps_answering_when_the_store_is_down(guard):
    down = "postgresql+psycopg://nobody@127.0.0.1:9/none?connect_timeout=1"
    offline = Guard(
        guard.artifact,
        GuardPolicy.from_metadata(guard.artifact.metadata, block={"impolite": 0.0}),
        recorder=VerdictRecorder(down),
    )
    started = time.perf_counter()
    verdicts = [offline.check(response=HARSH, response_id=f"x-{i}") for i in range(20)]
    assert time.perf_counter() - started < 5
    assert {v.action for v in verdicts} == {"block"} and all(v.error is None for v in verdicts)
    deadline = time.monotonic() + 10
    stats = offline.recorder.stats
    while stats.store_errors == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stats.store_errors >= 1 and stats.written == 0
    offline.close(timeout=0.2)


def test_verdict_dict_is_json_ready(guard):
    data = guard.check(response="ok", response_id="a").as_dict()
    assert set(data) >= {"id", "scores", "action", "classifier_version", "latency_ms"}
    assert data["id"] == "a" and isinstance(data["latency_ms"], float)


def test_the_recorder_opens_the_store_before_the_first_verdict(store_url):
    # Opening (imports, migration check) on the first verdict stalled the checks around it.
    recorder = VerdictRecorder(store_url)
    deadline = time.monotonic() + 10
    while recorder._db is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert recorder._db is not None and recorder.stats.submitted == 0
    recorder.close(timeout=1)
