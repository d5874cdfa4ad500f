"""Simulated demo reviewers label through the real queue: overlap, disputes, gold, final labels."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.demo import generate_demo
from evalkit.demo.reviewers import DEMO_ACCOUNTS, create_demo_accounts, simulate_reviews
from evalkit.records import ResponseRecord
from evalkit.review import accounts, final_labels, queue_status
from evalkit.review.agreement import agreement_report
from tests.review.conftest import T0


def test_demo_accounts_log_in_and_are_created_once(db):
    assert create_demo_accounts(db) == list(DEMO_ACCOUNTS)
    create_demo_accounts(db)
    for username, role, password in DEMO_ACCOUNTS:
        who = accounts.verify_login(db, username, password)
        assert who is not None and who.role == role


@pytest.mark.slow
def test_simulated_reviews_give_real_shaped_labels(sqlite_settings):
    from evalkit.store.database import Database

    db = Database.open(sqlite_settings.resolved_database_url)
    traffic = generate_demo(150, rng=np.random.default_rng(3), start=T0, run="demo-t")
    records = [
        ResponseRecord(
            id=r["id"],
            received_at=T0,
            created_at=T0,
            response=r["response"],
            prompt=r.get("prompt", ""),
            model_id=r.get("model_id"),
            intent=r.get("intent"),
            tenant=r.get("tenant"),
        )
        for r in traffic.responses
    ]
    # Traffic whose truth the simulated reviewers do not know (another run's, or real traffic)
    # must never be sampled for them to label.
    strangers = [
        ResponseRecord(
            id=f"real-{i:04d}", received_at=T0, created_at=T0, response="?", model_id="atlas-xl"
        )
        for i in range(300)
    ]
    with db.writer() as w:
        w.add_responses(records + strangers)
    report = simulate_reviews(
        db, sqlite_settings, seed=5, truth=traffic.truth, sample_size=80, gold_items=5, leave=10
    )
    assert report.queued == 80 and report.gold_items == 5 and report.submissions > 70
    status = queue_status(db)
    assert status.pending <= 10 and status.disputed == 0  # every dispute adjudicated
    sources = {f.source for f in final_labels(db, "hallucination")}
    assert {"single", "consensus"} <= sources
    from sqlalchemy import select

    from evalkit.store.tables import REVIEW_ITEMS

    with db.engine.connect() as conn:
        queued = set(conn.execute(select(REVIEW_ITEMS.c.response_id)).scalars())
    assert len(queued) == 85 and queued <= set(traffic.truth)
    people = {p.username: p for p in agreement_report(db).reviewers}
    assert set(people) == {"demo-reviewer-1", "demo-reviewer-2", "sim-contractor"}
    db.dispose()
