"""Migration 0003 keeps a store's imported labels and queued items working."""

from __future__ import annotations

from sqlalchemy import text

from evalkit.review import final_labels
from evalkit.store.database import Database, make_engine, upgrade


def test_labels_and_items_from_before_0003_still_read(unmigrated_store_url):
    engine = make_engine(unmigrated_store_url)
    upgrade(engine, "0002")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO responses (id, received_at, created_at, tenant, prompt, response, "
                "metadata, content_hash) VALUES ('r-1', '2026-11-01 10:00:00', "
                "'2026-11-01 10:00:00', 'acme', 'q', 'a', '{}', 'h')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO labels (response_id, head, value, annotator, source_kind, "
                "created_at, current) VALUES ('r-1', 'hallucination', 'true', 'HaluEval', "
                "'import', '2026-11-01 10:00:00', true)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO review_items (response_id, queue, strategy, inclusion_probability, "
                "priority, status, required_reviews, created_at) VALUES ('r-1', 'default', "
                "'random', 0.5, 0, 'pending', 1, '2026-11-01 10:00:00')"
            )
        )
    engine.dispose()
    db = Database.open(unmigrated_store_url)
    (label,) = final_labels(db, "hallucination")
    assert (label.response_id, label.positive, label.source) == ("r-1", True, "imported")
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT tenant, reviews_done FROM review_items")).one()
    assert tuple(row) == ("acme", 0)
    db.dispose()
