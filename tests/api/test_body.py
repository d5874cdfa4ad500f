"""Bodies an outside tester sends: nested thousands deep, not UTF-8, not JSON by content type,
records with a field named ``records``. Each is a 4xx with a message, on every POST route."""

from __future__ import annotations

import json

import pytest

from evalkit.api.body import SHAPE
from tests.api.expected import error, ingest_body
from tests.helpers import record

ROUTES = ["/v1/responses", "/v1/feedback"]
JSON = {"Content-Type": "application/json"}


def count_responses(db) -> int:
    from sqlalchemy import text

    with db.reader() as conn:
        return conn.execute(text("SELECT count(*) FROM responses")).scalar_one()


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("depth", [1000, 5000, 100_000])
def test_json_nested_thousands_deep_is_a_400_with_a_message(client, db, route, depth):
    body = b"[" * depth + b"]" * depth
    answer = client.post(route, content=body, headers=JSON)
    assert (answer.status_code, answer.json()) == (
        400,
        {"detail": f"the request body is nested too deeply to read; {SHAPE}"},
    )
    # The connection is still good for the next request (a 500 used to reset kept-alive ones).
    assert client.post(route, json={"records": []}).status_code == 200
    assert count_responses(db) == 0


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_a_record_whose_field_is_nested_thousands_deep_is_a_400(client, db, depth):
    nested = "[" * depth + "]" * depth
    body = f'{{"records": [{{"id": "r-1", "response": "a", "deep": {nested}}}]}}'.encode()
    answer = client.post("/v1/responses", content=body, headers=JSON)
    assert answer.status_code == 400
    assert answer.json()["detail"].startswith("the request body is nested too deeply to read")
    assert count_responses(db) == 0


def test_nesting_the_store_cannot_hold_is_that_records_error(client, db):
    # Readable JSON, but deeper than what is stored as metadata: rejected by record and field,
    # the others stored.
    deep = json.loads("[" * 600 + "]" * 600)
    answer = client.post("/v1/responses", json={"records": [record(1, deep=deep), record(2)]})
    assert answer.status_code == 422
    body = answer.json()
    assert (body["stored"], body["rejected"], body["ids"]) == (1, 1, [None, "r-2"])
    assert body["errors"][0]["index"] == 0 and "nested too deeply" in body["errors"][0]["message"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize(
    "content_type", ["application/xml", "text/plain", "application/x-www-form-urlencoded"]
)
def test_a_body_that_is_not_json_by_content_type_is_a_415(client, db, route, content_type):
    answer = client.post(
        route, content=json.dumps(record(1)).encode(), headers={"Content-Type": content_type}
    )
    assert (answer.status_code, answer.json()) == (
        415,
        {
            "detail": "the request body must be JSON (Content-Type: application/json), "
            f"got Content-Type {content_type!r}"
        },
    )
    assert count_responses(db) == 0


def test_a_charset_other_than_utf8_is_a_415(client, db):
    answer = client.post(
        "/v1/responses",
        content=json.dumps(record(1)).encode("utf-16"),
        headers={"Content-Type": "application/json; charset=utf-16"},
    )
    assert (answer.status_code, answer.json()) == (
        415,
        {"detail": "the request body must be UTF-8 JSON, got charset 'utf-16'"},
    )


@pytest.mark.parametrize(
    "content_type",
    [None, "application/json", "application/json; charset=UTF-8", "application/vnd.api+json"],
)
def test_json_content_types_and_no_header_are_read(app, db, content_type):
    from fastapi.testclient import TestClient

    from tests.api.conftest import TOKEN

    headers = {"Authorization": f"Bearer {TOKEN}"}
    if content_type:
        headers["Content-Type"] = content_type
    with TestClient(app, headers=headers) as client:
        answer = client.post("/v1/responses", content=json.dumps(record(1)).encode())
    assert (answer.status_code, answer.json()) == (201, ingest_body(stored=1, ids=["r-1"]))


@pytest.mark.parametrize("route", ROUTES)
def test_a_utf16_body_with_a_byte_order_mark_is_a_400(client, db, route):
    answer = client.post(route, content=json.dumps(record(1)).encode("utf-16"), headers=JSON)
    assert (answer.status_code, answer.json()) == (
        400,
        {
            "detail": "the request body is not UTF-8: it starts with a UTF-16 byte-order mark; "
            f"send UTF-8 JSON ({SHAPE})"
        },
    )
    assert count_responses(db) == 0


def test_invalid_utf8_in_a_batch_names_the_record_and_field(client, db):
    good = json.dumps(record(1)).encode()
    bad = b'{"id": "r-2", "response": "caf\xe9 au lait"}'
    body = b'{"records": [' + good + b", " + bad + b"]}"
    answer = client.post("/v1/responses", content=body, headers=JSON)
    offset = body.index(b"\xe9")
    assert (answer.status_code, answer.json()) == (
        400,
        {
            "detail": f"the request body is not valid UTF-8 (byte 0xe9 at offset {offset}, in "
            "record 2 (index 1, id 'r-2'), field 'response'); send UTF-8 JSON"
        },
    )
    assert count_responses(db) == 0


def test_a_utf8_byte_order_mark_is_ignored(client):
    body = b"\xef\xbb\xbf" + json.dumps(record(1)).encode()
    answer = client.post("/v1/responses", content=body, headers=JSON)
    assert (answer.status_code, answer.json()) == (201, ingest_body(stored=1, ids=["r-1"]))


def test_a_record_may_have_a_field_named_records(client):
    raw = record(1, records=[{"order": 7}], note="kept")
    answer = client.post("/v1/responses", json=raw)
    assert (answer.status_code, answer.json()) == (201, ingest_body(stored=1, ids=["r-1"]))
    stored = client.get("/v1/responses/r-1").json()
    assert stored["metadata"] == {"records": [{"order": 7}], "note": "kept"}


def test_records_beside_other_keys_is_one_record_not_a_batch(client, db):
    # {"records": [...]} alone is a batch; with any other key it is a record, checked as one.
    answer = client.post("/v1/responses", json={"records": [record(1)], "strict": True})
    assert (answer.status_code, answer.json()) == (
        422,
        ingest_body(
            rejected=1,
            ids=[None],
            errors=[error(0, "response", "required field is missing")],
        ),
    )
    assert count_responses(db) == 0


def test_a_batch_of_records_each_with_a_records_field(client):
    batch = {"records": [record(1, records=3), record(2, records=[])]}
    answer = client.post("/v1/responses", json=batch)
    assert (answer.status_code, answer.json()) == (201, ingest_body(stored=2, ids=["r-1", "r-2"]))


def test_the_spec_allows_what_the_server_takes_for_an_empty_id_and_a_null_prompt(client):
    one = client.get("/openapi.json").json()["paths"]["/v1/responses"]["post"]["requestBody"]
    record_schema = one["content"]["application/json"]["schema"]["oneOf"][0]["properties"]
    assert "minLength" not in str(record_schema["id"])
    assert {"type": "null"} in record_schema["prompt"]["anyOf"]
    answer = client.post("/v1/responses", json={"id": "", "prompt": None, "response": "ok"})
    assert answer.status_code == 201 and answer.json()["ids"][0].startswith("sha-")
