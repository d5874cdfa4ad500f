"""POST /v1/responses and GET /v1/responses/{id}: whole bodies, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from evalkit.api.app import create_app
from evalkit.store.queries import count_responses, get_response
from tests.api.conftest import TOKEN
from tests.api.expected import SHAPE, error, ingest_body
from tests.helpers import record

URL = "/v1/responses"


def stored_body(i: int, **overrides):
    """What GET answers for ``record(i)`` (received_at and content_hash checked apart)."""
    raw = record(i)
    body = {
        "id": raw["id"],
        "received_at": None,
        "created_at": raw["created_at"],
        "response": raw["response"],
        "prompt": raw["prompt"],
        "context": None,
        "tenant": "acme",
        "model_id": raw["model_id"],
        "model_version": None,
        "prompt_version": None,
        "intent": "refund_policy",
        "user_segment": None,
        "latency_ms": raw["latency_ms"],
        "input_tokens": raw["input_tokens"],
        "output_tokens": 20,
        "cost": 0.001,
        "confidence": 0.9,
        "outcome": None,
        "metadata": {},
        "content_hash": None,
    }
    body.update(overrides)
    return body


def test_one_record_is_stored_and_read_back(client):
    before = datetime.now(UTC)
    answer = client.post(URL, json=record(1))
    assert (answer.status_code, answer.json()) == (201, ingest_body(stored=1, ids=["r-1"]))

    got = client.get(f"{URL}/r-1")
    assert got.status_code == 200
    body = got.json()
    received = datetime.fromisoformat(body["received_at"])
    assert before <= received <= datetime.now(UTC) and body["received_at"].endswith("Z")
    assert re.fullmatch(r"[0-9a-f]{64}", body["content_hash"])
    expected = stored_body(1, received_at=body["received_at"], content_hash=body["content_hash"])
    assert body == expected


def test_batch_keeps_input_order_and_resending_is_a_no_op(client, db):
    batch = {"records": [record(3), record(1), record(2), record(1)]}
    first = client.post(URL, json=batch)
    assert (first.status_code, first.json()) == (
        201,
        ingest_body(stored=3, duplicates=1, ids=["r-3", "r-1", "r-2", "r-1"]),
    )
    again = client.post(URL, json=batch)
    assert (again.status_code, again.json()) == (
        200,
        ingest_body(duplicates=4, ids=["r-3", "r-1", "r-2", "r-1"]),
    )
    assert count_responses(db) == 3


def test_rejected_records_are_reported_by_index_and_the_others_stored(client, db):
    records = [
        record(1),
        record(2, latency_ms="slow"),
        {"id": "x", "prompt": "no response field"},
        42,
        record(5, confidence=1.5),
        record(6),
    ]
    answer = client.post(URL, json={"records": records})
    assert answer.status_code == 422
    assert answer.json() == ingest_body(
        stored=2,
        rejected=4,
        ids=["r-1", None, None, None, None, "r-6"],
        errors=[
            error(
                1,
                "latency_ms",
                "expected a number, got text (got 'slow')",
                "r-2",
            ),
            error(2, "response", "required field is missing", "x"),
            error(3, None, "expected an object"),
            error(4, "confidence", "must be <= 1 (got 1.5)", "r-5"),
        ],
    )
    assert count_responses(db) == 2
    assert client.get(f"{URL}/r-6").status_code == 200
    assert client.get(f"{URL}/r-2").status_code == 404

    # The client retries only the fixed records; the good ones could be re-sent for free.
    retry = client.post(URL, json={"records": [record(1), record(2), record(5)]})
    assert (retry.status_code, retry.json()) == (
        201,
        ingest_body(stored=2, duplicates=1, ids=["r-1", "r-2", "r-5"]),
    )


def test_a_changed_record_under_a_stored_id_is_a_conflict_not_an_overwrite(client, db):
    client.post(URL, json=record(1))
    answer = client.post(URL, json=record(1, response="Something else entirely."))
    assert answer.status_code == 422
    assert answer.json() == ingest_body(
        rejected=1,
        ids=[None],
        errors=[
            error(
                0,
                "id",
                "conflict: a response with this id is already stored with different content "
                "(not overwritten)",
                "r-1",
            )
        ],
    )
    assert get_response(db, "r-1").response == record(1)["response"]


def test_strict_stores_nothing_when_any_record_is_rejected(client, db):
    records = [record(1), {"id": "b"}, record(3)]
    answer = client.post(URL, params={"strict": "true"}, json={"records": records})
    assert answer.status_code == 422
    assert answer.json() == ingest_body(
        rejected=1,
        ids=[None, None, None],
        errors=[error(1, "response", "required field is missing", "b")],
    )
    assert count_responses(db) == 0

    clean = client.post(URL, params={"strict": "true"}, json={"records": [record(1), record(3)]})
    assert (clean.status_code, clean.json()) == (201, ingest_body(stored=2, ids=["r-1", "r-3"]))


def test_a_batch_holds_at_most_1000_records(client, db):
    too_many = [{"id": f"n-{i}", "response": f"answer {i}"} for i in range(1001)]
    answer = client.post(URL, json={"records": too_many})
    assert (answer.status_code, answer.json()) == (
        413,
        {
            "detail": "a batch holds at most 1000 records, this one has 1001; "
            "split it into several requests"
        },
    )
    assert count_responses(db) == 0

    full = client.post(URL, json={"records": too_many[:1000]})
    ids = [f"n-{i}" for i in range(1000)]
    assert (full.status_code, full.json()) == (201, ingest_body(stored=1000, ids=ids))


def test_a_body_over_the_byte_limit_is_refused_before_it_is_read(api_settings, db):
    """413 from the declared Content-Length, and while streaming a body sent without one
    (chunked), so a huge upload never sits in memory; smaller bodies still go through."""
    small = api_settings.model_copy(update={"max_request_bytes": 2048})
    body = json.dumps({"records": [record(i, response="x" * 300) for i in range(10)]}).encode()
    assert len(body) > 2048
    detail = "the request body is over 2,048 bytes (at least {}); split it into several " + (
        "requests (EVALKIT_MAX_REQUEST_BYTES sets the limit)"
    )
    with TestClient(create_app(small), headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        declared = client.post(URL, content=body, headers={"Content-Type": "application/json"})
        assert (declared.status_code, declared.json()) == (
            413,
            {"detail": detail.format(f"{len(body):,}")},
        )

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(body), 1000):
                yield body[start : start + 1000]

        # No Content-Length: the size is counted while reading (the test client hands the
        # app its chunks at once, so how far it got is not fixed).
        streamed = client.post(URL, content=chunks(), headers={"Content-Type": "application/json"})
        assert "content-length" not in streamed.request.headers
        assert streamed.status_code == 413
        message = streamed.json()["detail"]
        got = re.search(r"\(at least ([0-9,]+)\)", message)
        assert got is not None and message == detail.format(got[1])
        assert int(got[1].replace(",", "")) > 2048
        assert count_responses(db) == 0

        fits = client.post(URL, json={"records": [record(1)]})
        assert fits.status_code == 201 and count_responses(db) == 1


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"", f"the request body is empty; {SHAPE}"),
        (b"   \n", f"the request body is empty; {SHAPE}"),
        (
            b"response: hello",
            "the request body is not valid JSON (Expecting value: line 1 column 1 (char 0)); "
            + SHAPE,
        ),
        (
            b'{"response": NaN}',
            f"the request body is not valid JSON (NaN is not valid JSON); {SHAPE}",
        ),
        (
            b'[{"response": "a"}]',
            f"expected a JSON object, got an array: {SHAPE}; "
            'wrap a list of records as {"records": [...]}',
        ),
        (b"42", f"expected a JSON object, got a number: {SHAPE}"),
        (b'"hello"', f"expected a JSON object, got a string: {SHAPE}"),
        (b"null", f"expected a JSON object, got null: {SHAPE}"),
        (
            b'{"records": {"response": "a"}}',
            "'records' must be an array of record objects, got an object",
        ),
    ],
    ids=[
        "empty",
        "blank",
        "not-json",
        "nan",
        "list",
        "number",
        "string",
        "null",
        "records-obj",
    ],
)
def test_a_body_that_is_not_a_record_or_a_batch_is_a_400(client, db, body, detail):
    answer = client.post(URL, content=body, headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.json()) == (400, {"detail": detail})
    assert count_responses(db) == 0


def test_an_empty_batch_is_nothing_to_do(client):
    answer = client.post(URL, json={"records": []})
    assert (answer.status_code, answer.json()) == (200, ingest_body())


def test_a_malformed_query_parameter_is_a_400(client, db):
    answer = client.post(URL, params={"strict": "maybe"}, json=record(1))
    assert (answer.status_code, answer.json()) == (
        400,
        {
            "detail": "query parameter 'strict': Input should be a valid boolean, "
            "unable to interpret input (got 'maybe')"
        },
    )
    assert count_responses(db) == 0


def test_pii_is_redacted_before_it_is_stored(client):
    raw = record(3, prompt="Write to jane.doe@example.com please", customer_email="a@b.co")
    answer = client.post(URL, json=raw)
    assert (answer.status_code, answer.json()) == (
        201,
        ingest_body(stored=1, ids=["r-3"], redactions={"email": 2}),
    )
    body = client.get(f"{URL}/r-3").json()
    assert body == stored_body(
        3,
        prompt="Write to [EMAIL] please",
        metadata={"customer_email": "[EMAIL]"},
        received_at=body["received_at"],
        content_hash=body["content_hash"],
    )


def test_get_an_unknown_id_is_a_404(client):
    answer = client.get(f"{URL}/nope")
    assert (answer.status_code, answer.json()) == (404, {"detail": "no response with id 'nope'"})


def test_ids_with_slashes_can_be_read_back(client):
    client.post(URL, json=record(1, id="conv-9/turn/2"))
    assert client.get(f"{URL}/conv-9/turn/2").json()["id"] == "conv-9/turn/2"
    assert client.get(f"{URL}/conv-9%2Fturn%2F2").json()["id"] == "conv-9/turn/2"
    assert client.get(f"{URL}/conv-9/turn").status_code == 404


def test_openapi_documents_the_request_body(client):
    operation = client.get("/openapi.json").json()["paths"][URL]["post"]
    content = operation["requestBody"]["content"]["application/json"]
    one, batch = content["schema"]["oneOf"]
    assert one["required"] == ["response"] and "latency_ms" in one["properties"]
    assert batch["properties"]["records"] == {"type": "array", "items": one, "maxItems": 1000}
    assert set(content["examples"]) == {"one", "batch"}
    assert set(operation["responses"]) == {"200", "201", "400", "401", "413", "415", "422", "503"}
