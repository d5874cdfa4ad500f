"""POST /v1/feedback: whole bodies, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from evalkit.records import FeedbackKind
from evalkit.store.queries import feedback_for
from tests.api.expected import SHAPE, error, ingest_body
from tests.helpers import record

URL = "/v1/feedback"


@pytest.fixture
def stored(client):
    """Responses r-1 and r-2, stored through the API."""
    answer = client.post("/v1/responses", json={"records": [record(1), record(2)]})
    assert answer.status_code == 201
    return client


def rating(fid, response_id="r-1", value="up"):
    return {"id": fid, "response_id": response_id, "kind": "rating", "value": value}


def test_one_event_is_stored_and_resending_is_a_no_op(stored, db):
    first = stored.post(URL, json=rating("fb-1", value=-1))
    assert (first.status_code, first.json()) == (201, ingest_body(stored=1, ids=["fb-1"]))
    again = stored.post(URL, json=rating("fb-1", value=-1))
    assert (again.status_code, again.json()) == (200, ingest_body(duplicates=1, ids=["fb-1"]))
    assert [(e.id, e.kind, e.value) for e in feedback_for(db, "r-1")] == [
        ("fb-1", FeedbackKind.RATING, "down")
    ]


def test_unknown_response_and_invalid_events_are_rejected_the_others_stored(stored, db):
    events = [
        {"id": "fb-1", "response_id": "r-1", "kind": "outcome", "value": "Resolved"},
        rating("fb-2", response_id="nope"),
        rating("fb-3", value="sideways"),
        {"id": "fb-4", "response_id": "r-2", "kind": "mood", "value": "x"},
        {"id": "fb-5", "response_id": "r-2", "kind": "comment", "value": "mail jane@example.com"},
    ]
    answer = stored.post(URL, json={"records": events})
    assert answer.status_code == 422
    assert answer.json() == ingest_body(
        stored=2,
        rejected=3,
        ids=["fb-1", None, None, None, "fb-5"],
        errors=[
            error(1, "response_id", "no stored response has id 'nope'", "fb-2"),
            error(2, "value", "a rating is 'up' or 'down' (or +1/-1), got 'sideways'", "fb-3"),
            error(
                3,
                "kind",
                "invalid enum value 'mood'; expected one of outcome, rating, correction, comment",
                "fb-4",
            ),
        ],
        redactions={"email": 1},
    )
    assert [(e.id, e.value) for e in feedback_for(db, "r-1")] == [("fb-1", "resolved")]
    assert [(e.id, e.value) for e in feedback_for(db, "r-2")] == [("fb-5", "mail [EMAIL]")]


def test_feedback_for_an_empty_store_names_the_missing_response(client, db):
    answer = client.post(URL, json=rating("fb-1"))
    assert answer.status_code == 422
    assert answer.json() == ingest_body(
        rejected=1,
        ids=[None],
        errors=[error(0, "response_id", "no stored response has id 'r-1'", "fb-1")],
    )


def test_events_without_an_id_get_a_content_id_listed_in_ids(stored, db):
    event = {"response_id": "r-2", "kind": "rating", "value": "down"}
    answer = stored.post(URL, json=event)
    (event_id,) = answer.json()["ids"]
    assert event_id.startswith("sha-")
    assert (answer.status_code, answer.json()) == (201, ingest_body(stored=1, ids=[event_id]))
    again = stored.post(URL, json=event)
    assert again.json() == ingest_body(duplicates=1, ids=[event_id])
    assert [e.value for e in feedback_for(db, "r-2")] == ["down"]


def test_strict_stores_no_event_when_one_is_rejected(stored, db):
    events = [rating("fb-1"), rating("fb-2", response_id="nope")]
    answer = stored.post(URL, params={"strict": "true"}, json={"records": events})
    assert answer.status_code == 422
    assert answer.json() == ingest_body(
        rejected=1,
        ids=[None, None],
        errors=[error(1, "response_id", "no stored response has id 'nope'", "fb-2")],
    )
    assert feedback_for(db, "r-1") == []


def test_the_envelope_rules_are_those_of_responses(stored, db):
    listed = stored.post(URL, json=[rating("fb-1")])
    assert (listed.status_code, listed.json()) == (
        400,
        {
            "detail": f"expected a JSON object, got an array: {SHAPE}; "
            'wrap a list of records as {"records": [...]}'
        },
    )
    too_many = stored.post(URL, json={"records": [rating(f"fb-{i}") for i in range(1001)]})
    assert (too_many.status_code, too_many.json()) == (
        413,
        {
            "detail": "a batch holds at most 1000 records, this one has 1001; "
            "split it into several requests"
        },
    )
    assert feedback_for(db, "r-1") == []


def test_openapi_documents_the_feedback_body(client):
    operation = client.get("/openapi.json").json()["paths"][URL]["post"]
    one, _batch = operation["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert one["required"] == ["response_id", "kind", "value"]
    # The kind enum is inlined: a "$defs" reference would not resolve inside an OpenAPI document.
    assert sorted(one["properties"]["kind"]["enum"]) == [
        "comment",
        "correction",
        "outcome",
        "rating",
    ]
