"""The store summary: figures per model, outcomes as they are known now."""

from __future__ import annotations

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.store.reports import summarize
from tests.helpers import record


def _outcome(rid: str, value: str, at: str, eid: str) -> dict:
    return {"id": eid, "response_id": rid, "kind": "outcome", "value": value, "created_at": at}


def test_outcomes_count_late_events_and_the_latest_one_wins(db, settings):
    """An outcome given at capture counts unless an outcome event came later; of several events
    the latest wins; a rating is not an outcome; a response with none is left out."""
    responses = [
        record(0, model_id="m", outcome="dropped"),  # capture only -> dropped
        record(1, model_id="m", outcome="dropped"),  # overridden by an event -> converted
        record(2, model_id="m"),  # two events, the later wins -> escalated
        record(3, model_id="m"),  # a rating only -> no outcome
        record(4, model_id="m"),  # nothing
        record(5, model_id="other"),  # event only -> resolved
    ]
    events = [
        _outcome("r-1", "converted", "2026-11-05T10:00:00Z", "e1"),
        _outcome("r-2", "escalated", "2026-11-05T12:00:00Z", "e2"),
        _outcome("r-2", "resolved", "2026-11-05T11:00:00Z", "e3"),  # earlier, though listed later
        {"id": "e4", "response_id": "r-3", "kind": "rating", "value": "up"},
        _outcome("r-5", "resolved", "2026-11-05T09:00:00Z", "e5"),
    ]
    assert Ingestor(db, settings).ingest_records(responses).stored == 6
    fed = Ingestor(db, settings, IngestOptions(kind="feedback")).ingest_records(events)
    assert fed.stored == 5, fed.errors

    models = {m.model_id: m for m in summarize(db).models}
    assert models["m"].responses == 5
    assert models["m"].outcomes == {"dropped": 1, "converted": 1, "escalated": 1}
    assert models["other"].outcomes == {"resolved": 1}


def test_outcome_events_at_the_same_time_the_one_received_last_wins(db, settings):
    """Date-only times make ties common: the event received later is the newer news, whatever
    its id says (``e9`` sorts after ``e10``)."""
    assert Ingestor(db, settings).ingest_records([record(1, model_id="m")]).stored == 1
    feedback = Ingestor(db, settings, IngestOptions(kind="feedback"))
    assert feedback.ingest_records([_outcome("r-1", "dropped", "2026-11-05", "e9")]).stored == 1
    later = feedback.ingest_records([_outcome("r-1", "converted", "2026-11-05", "e10")])
    assert later.stored == 1
    (model,) = summarize(db).models
    assert model.outcomes == {"converted": 1}
