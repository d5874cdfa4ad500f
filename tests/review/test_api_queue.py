"""``/v1/queue`` over HTTP on both stores: whole bodies, 201/204/400/401/404/409."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from evalkit.api.app import create_app
from evalkit.review import accounts
from evalkit.sample import enqueue_flagged
from evalkit.settings import Settings
from evalkit.store.database import Database
from tests.review.conftest import add_responses, queue_items


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, Database]]:
    app = create_app(settings.model_copy(update={"api_token": SecretStr("capture-token")}))
    with TestClient(app) as client:
        yield client, app.state.db


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_claim_label_and_lose_a_lease(api):
    client, db = api
    r = add_responses(db, 2, tenants=("acme", "globex"))
    acme_item, globex_item = queue_items(db, r)
    accounts.add_reviewer(db, "ann", tenants=["acme"])
    accounts.add_reviewer(db, "bob")
    ann, bob = bearer(accounts.mint_token(db, "ann")), bearer(accounts.mint_token(db, "bob"))

    assert client.post("/v1/queue/claim").status_code == 401
    assert client.post("/v1/queue/claim", headers=bearer("capture-token")).status_code == 401
    got = client.post("/v1/queue/claim", headers=ann)
    assert got.status_code == 200
    body = got.json()
    assert body["item_id"] == acme_item and body["response"]["id"] == r[0]
    assert body["response"]["tenant"] == "acme" and body["required_reviews"] == 1
    assert {"lease_expires_at", "priority", "due_at", "overdue", "queue"} <= set(body)

    # Another tenant's item is as absent as one that does not exist.
    for path in ("labels", "release", "lease"):
        answer = client.post(
            f"/v1/queue/items/{globex_item}/{path}",
            headers=ann,
            json={"labels": {"tone": "polite"}},
        )
        assert (answer.status_code, answer.json()) == (
            404,
            {"detail": f"no review item {globex_item}"},
        )

    bad = client.post(
        f"/v1/queue/items/{acme_item}/labels", headers=ann, json={"labels": {"tone": "rude"}}
    )
    assert bad.status_code == 400 and "labels.tone.value" in bad.json()["detail"]
    lease = client.post(f"/v1/queue/items/{acme_item}/lease", headers=ann)
    assert lease.status_code == 200 and lease.json()["item_id"] == acme_item
    done = client.post(
        f"/v1/queue/items/{acme_item}/labels",
        headers=ann,
        json={
            "labels": {"hallucination": {"value": "yes", "span": "30 days"}, "tone": "polite"},
            "correction": "Refunds take 14 days.",
            "seconds": 31.5,
        },
    )
    assert done.status_code == 201
    assert done.json() == {
        "item_id": acme_item,
        "submission_id": 1,
        "version": 1,
        "item_status": "done",
    }
    assert client.post("/v1/queue/claim", headers=ann).status_code == 204

    got = client.post("/v1/queue/claim", headers=bob, json={"queue": "default"})
    assert got.json()["item_id"] == globex_item
    released = client.post(f"/v1/queue/items/{globex_item}/release", headers=bob)
    assert released.json() == {"item_id": globex_item, "released": True}
    lost = client.post(
        f"/v1/queue/items/{globex_item}/labels", headers=bob, json={"labels": {"tone": "polite"}}
    )
    assert lost.status_code == 409 and "no lease" in lost.json()["detail"]


def test_schema_and_status(api):
    client, db = api
    enqueue_flagged(db, add_responses(db, 1), reason="guard")
    accounts.add_reviewer(db, "ann")
    ann = bearer(accounts.mint_token(db, "ann"))
    described = client.get("/v1/queue/schema", headers=ann).json()
    assert [h["name"] for h in described["heads"]] == ["hallucination", "tone", "harm"]
    status = client.get("/v1/queue/status", headers=ann).json()
    assert (status["pending"], status["overdue"], status["in_progress"]) == (1, 0, 0)


def test_disputes_and_adjudication_need_the_role(api):
    client, db = api
    (item,) = queue_items(db, add_responses(db, 1), k=2)
    for name, value in (("ann", "yes"), ("bob", "no")):
        accounts.add_reviewer(db, name)
        token = bearer(accounts.mint_token(db, name))
        assert client.post("/v1/queue/claim", headers=token).json()["item_id"] == item
        labels = {"labels": {"hallucination": value}}
        assert client.post(f"/v1/queue/items/{item}/labels", headers=token, json=labels).json()[
            "item_status"
        ] == ("pending" if name == "ann" else "disputed")
    accounts.add_reviewer(db, "judge", role="adjudicator")
    judge = bearer(accounts.mint_token(db, "judge"))
    denied = client.get("/v1/queue/disputed", headers=token)
    assert denied.status_code == 403 and "adjudicator" in denied.json()["detail"]
    denied = client.post(
        f"/v1/queue/items/{item}/adjudication", headers=token, json={"labels": {"tone": "polite"}}
    )
    assert denied.status_code == 403
    (disputed,) = client.get("/v1/queue/disputed", headers=judge).json()
    assert disputed["item_id"] == item and disputed["disagreeing_heads"] == ["hallucination"]
    assert sorted((lab["reviewer"], lab["value"]) for lab in disputed["labels"]) == [
        ("ann", "yes"),
        ("bob", "no"),
    ]
    done = client.post(
        f"/v1/queue/items/{item}/adjudication",
        headers=judge,
        json={"labels": {"hallucination": "yes"}},
    )
    assert done.status_code == 201 and done.json()["item_status"] == "adjudicated"
    assert client.get("/v1/queue/disputed", headers=judge).json() == []
