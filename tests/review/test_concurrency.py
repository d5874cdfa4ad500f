"""20 reviewers at once on PostgreSQL: nothing labelled twice by one reviewer, no overlap item
with more than k counted labels, nothing lost, and a reviewer killed mid-item loses nothing."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import text

from evalkit.review import LeaseLost, accounts, claim, queue_status, submit
from evalkit.store.database import Database, make_engine
from tests.conftest import _empty
from tests.review.conftest import add_responses, queue_items

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
ITEMS, REVIEWERS, OVERLAP_SHARE, K = 2000, 20, 0.1, 2


@pytest.fixture
def pg(request: pytest.FixtureRequest) -> Iterator[Database]:
    shared: Database = request.getfixturevalue("_pg_database")
    _empty(shared)
    db = Database(make_engine(shared.engine.url, pool_size=REVIEWERS + 2, max_overflow=4))
    yield db
    db.dispose()


def test_twenty_reviewers_at_once(pg: Database):
    db = pg
    rids = add_responses(db, ITEMS)
    overlap = set(random.Random(1).sample(range(ITEMS), int(ITEMS * OVERLAP_SHARE)))
    queue_items(db, [r for i, r in enumerate(rids) if i in overlap], k=K)
    queue_items(db, [r for i, r in enumerate(rids) if i not in overlap], k=1)
    people = [accounts.add_reviewer(db, f"rev-{i:02d}") for i in range(REVIEWERS)]
    ghost = accounts.add_reviewer(db, "killed")
    # The killed reviewer takes the first item under a short lease and never comes back.
    abandoned = claim(db, ghost, lease=timedelta(seconds=2))
    assert abandoned is not None
    errors: list[BaseException] = []
    done_by: dict[str, int] = {}

    def work(who) -> None:
        rng = random.Random(who.id)
        count = 0
        try:
            while True:
                item = claim(db, who)
                if item is None:
                    if queue_status(db).pending == 0:
                        break
                    time.sleep(0.2)  # the abandoned lease has not expired yet
                    continue
                value = rng.choice(["yes", "no"])
                submit(db, who, item.item_id, {"hallucination": value, "harm": "none"})
                count += 1
        except BaseException as exc:  # surfaced below: a thread must not fail silently
            errors.append(exc)
        done_by[who.username] = count

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.perf_counter() - started
    assert errors == [] and not any(t.is_alive() for t in threads)

    with pytest.raises(LeaseLost, match="expired"):
        submit(db, ghost, abandoned.item_id, {"hallucination": "no"})
    with db.engine.connect() as conn:
        twice = conn.execute(
            text(
                "SELECT count(*) FROM (SELECT review_item_id, reviewer_id FROM review_submissions "
                "GROUP BY review_item_id, reviewer_id HAVING count(*) > 1) t"
            )
        ).scalar_one()
        wrong = conn.execute(
            text(
                "SELECT count(*) FROM review_items i WHERE i.reviews_done <> i.required_reviews "
                "OR i.reviews_done <> (SELECT count(*) FROM review_submissions s "
                "WHERE s.review_item_id = i.id) OR i.status = 'pending'"
            )
        ).scalar_one()
        labels = conn.execute(
            text("SELECT count(*) FROM labels WHERE current AND head = 'hallucination'")
        ).scalar_one()
        ghost_item = conn.execute(
            text("SELECT reviews_done FROM review_items WHERE id = :i"), {"i": abandoned.item_id}
        ).scalar_one()
    assert twice == 0  # nobody labelled an item twice
    assert wrong == 0  # every item has exactly its k counted labels: none lost, none extra
    assert labels == ITEMS + len(overlap) * (K - 1)
    assert ghost_item >= 1  # the killed reviewer's item was finished by someone else
    assert sum(done_by.values()) == labels
    print(f"{labels} labels by {REVIEWERS} reviewers in {elapsed:.1f} s")
