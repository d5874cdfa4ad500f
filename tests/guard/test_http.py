"""POST /v1/check and /metrics: auth, limits, validation, and the same answers as in-process."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from evalkit import Guard
from evalkit.api.app import create_app
from evalkit.api.check import MAX_ITEMS
from evalkit.learn.train import model_sha256, thresholds_of
from evalkit.settings import Settings
from evalkit.store.classifiers import register_classifier
from evalkit.store.database import Database

TOKEN = "guard-t0ken"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _settings(tmp_path, url: str) -> Settings:
    return Settings(  # type: ignore[call-arg]
        data_dir=tmp_path, database_url=url, api_token=SecretStr(TOKEN), _env_file=None
    )


@pytest.fixture(scope="module")
def served(trained, tmp_path_factory):
    """One app for the module: it loads the classifier at start, which takes seconds."""
    tmp_path = tmp_path_factory.mktemp("served")
    url = f"sqlite:///{tmp_path / 'evalkit.db'}"
    db = Database.open(url)
    register_trained(db, trained)
    db.dispose()
    with TestClient(create_app(_settings(tmp_path, url)), headers=AUTH) as client:
        yield client


def register_trained(db: Database, trained) -> None:
    """Make the trained artifact the store's active classifier, as `evalkit train` does."""
    meta = trained.metadata
    register_classifier(
        db,
        version=trained.version,
        heads=list(meta["heads"]),
        artifact_path=str(trained.path),
        artifact_sha256=model_sha256(meta),
        thresholds=thresholds_of(meta),
        metrics={},
        trained_at=trained_at(meta),
    )


def trained_at(meta):
    from datetime import datetime

    return datetime.fromisoformat(meta["trained_at"])


ITEM = {
    "prompt": "Can I return it?",
    "response": "Returns are accepted within 30 days.",
    "id": "h-1",
}


def test_single_and_batch_agree_with_the_in_process_guard(served, trained):
    local = Guard.load(trained.path)
    one = served.post("/v1/check", json=ITEM)
    assert one.status_code == 200
    expected = local.check(prompt=ITEM["prompt"], response=ITEM["response"], response_id="h-1")
    body = one.json()
    assert body["scores"] == pytest.approx(expected.scores, abs=1e-6)
    assert (body["action"], body["classifier_version"], body["id"]) == (
        expected.action,
        trained.version,
        "h-1",
    )
    items = [ITEM, {"response": "Go away.", "context": ["a", "b"]}]
    batch = served.post("/v1/check", json={"items": items})
    assert batch.status_code == 200 and len(batch.json()["results"]) == 2
    assert batch.json()["results"][0]["scores"] == pytest.approx(body["scores"], abs=1e-6)


def test_without_a_token_401(served):
    assert served.post("/v1/check", json=ITEM, headers={"Authorization": ""}).status_code == 401
    assert served.post("/v1/check", json=ITEM, headers={"Authorization": "Bearer no"}).json() == {
        "detail": "invalid bearer token"
    }


def test_too_large_413(served):
    big = served.post("/v1/check", json={"response": "x" * (5 * 1024 * 1024)})
    assert big.status_code == 413
    many = served.post("/v1/check", json={"items": [ITEM] * (MAX_ITEMS + 1)})
    assert many.status_code == 413 and "at most 256" in many.json()["detail"]


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (b"{not json", "body"),
        (b'{"prompt": "no response"}', "response"),
        (b'{"response": "x", "confidence": 3}', "confidence"),
        (b'{"response": "x", "surprise": 1}', "surprise"),
        (b'{"items": [{"response": 1}]}', "items.0.response"),
    ],
    ids=["not-json", "no-response", "bad-confidence", "unknown-field", "bad-item"],
)
def test_not_a_check_422_naming_the_problem(served, body, where):
    answer = served.post("/v1/check", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert where in [p["loc"] for p in answer.json()["detail"]]


def _count(text: str, series: str) -> float:
    line = next((x for x in text.splitlines() if x.startswith(series + " ")), None)
    return float(line.split()[-1]) if line else 0.0


def test_metrics_count_requests_actions_and_the_version(served, trained):
    ok, bad = (
        'evalkit_guard_requests_total{status="200"}',
        ('evalkit_guard_requests_total{status="422"}'),
    )
    before = served.get("/metrics").text
    served.post("/v1/check", json=ITEM)
    served.post("/v1/check", content=b"{", headers={"Content-Type": "application/json"})
    text = served.get("/metrics").text
    assert _count(text, ok) == _count(before, ok) + 1
    assert _count(text, bad) == _count(before, bad) + 1
    assert "evalkit_guard_latency_seconds_bucket" in text
    assert "evalkit_guard_actions_total{" in text
    assert f'evalkit_guard_classifier_info{{version="{trained.version}"}} 1.0' in text


def test_healthz_says_which_classifier_is_live(served, trained):
    assert served.get("/healthz").json()["classifier_version"] == trained.version


def test_no_classifier_503_with_the_way_out(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with TestClient(create_app(_settings(tmp_path, url)), headers=AUTH) as client:
        answer = client.post("/v1/check", json=ITEM)
        assert answer.status_code == 503 and "evalkit train" in answer.json()["detail"]
        assert client.get("/metrics").status_code == 200
