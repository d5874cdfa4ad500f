"""Labels made outside evalkit (Label Studio): open items, and submissions without a lease under
the queue's rule (k, one count per reviewer, edits as versions, idempotent), on both stores."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evalkit.errors import NotFoundError, UsageError
from evalkit.review import (
    Forbidden,
    LeaseLost,
    accounts,
    claim,
    external_reviewers,
    final_labels,
    item_history,
    open_items,
    parse_submission,
    queue_status,
    submit,
    submit_external,
)
from evalkit.sample import add_gold, enqueue_flagged
from tests.review.conftest import T0, add_responses, queue_items

NOW = T0 + timedelta(days=1)
NO = parse_submission({"hallucination": "no"})
YES = parse_submission({"hallucination": "yes"})


def test_open_items_in_serving_order_scoped_by_tenant(db, reviewers):
    r = add_responses(db, 5, tenants=("acme", "globex"))
    old, new, third = queue_items(db, [r[0], r[1], r[4]])
    flagged = enqueue_flagged(db, [r[2]], reason="guard", now=T0).added[0]
    queue_items(db, [r[3]], queue="other")
    submit(db, reviewers["ann"], claim(db, reviewers["ann"], now=NOW).item_id, NO, now=NOW)  # type: ignore[union-attr]
    items = open_items(db, queue="default")
    assert [i.item_id for i in items] == [old, new, third]  # flagged came first: it is done
    assert flagged not in [i.item_id for i in items]
    assert items[0].response.id == r[0] and items[0].response.prompt == "Question 0?"
    assert (items[0].required_reviews, items[0].reviews_done) == (1, 0)
    globex = accounts.add_reviewer(db, "gx", tenants=["globex"])
    assert [i.response.tenant for i in open_items(db, queue="default", viewer=globex)] == ["globex"]
    assert len(open_items(db, viewer=globex)) == 2
    assert [i.item_id for i in open_items(db, queue="default", limit=1)] == [old]
    with pytest.raises(UsageError):
        open_items(db, limit=0)


def test_external_submissions_count_once_per_reviewer_up_to_k(db, reviewers):
    r = add_responses(db, 1)
    (item,) = queue_items(db, r, k=2)
    first = submit_external(db, item, "lee@example.com", NO, external_id="7@t1", now=NOW)
    assert first is not None and first.version == 1 and first.item_status == "pending"
    lee = accounts.get_reviewer(db, "lee@example.com")  # made on first sight, for its tenant
    assert (lee.role, lee.has_password, lee.tenants) == ("reviewer", False, ("acme",))
    assert submit_external(db, item, "lee@example.com", NO, external_id="7@t1", now=NOW) is None
    edit = submit_external(db, item, "lee@example.com", YES, external_id="7@t2", now=NOW)
    assert edit is not None and edit.version == 2 and edit.item_status == "pending"
    assert open_items(db)[0].reviews_done == 1  # the edit did not count a second review
    done = submit_external(db, item, "max@example.com", YES, external_id="8@t1", now=NOW)
    assert done is not None and done.item_status == "done"
    with pytest.raises(LeaseLost, match="all its 2 reviews"):
        submit_external(db, item, "ann", NO, external_id="9@t1", now=NOW)
    assert open_items(db) == []
    (label,) = final_labels(db, "hallucination")
    assert (label.value, label.source) == ("yes", "consensus")
    versions = item_history(db, item)
    assert len(versions) == 3


def test_a_live_lease_holds_its_place_and_a_leased_reviewer_may_submit_externally(db, reviewers):
    ann, bob = reviewers["ann"], reviewers["bob"]
    r = add_responses(db, 2)
    one, two = queue_items(db, r)
    assert claim(db, ann, now=NOW).item_id == one  # type: ignore[union-attr]
    with pytest.raises(LeaseLost, match="leased to reviewers"):
        submit_external(db, one, "lee", NO, external_id="1@t", now=NOW)
    # the lease holder labelling the same item in Label Studio: their lease becomes the count
    stored = submit_external(db, one, "ann", NO, external_id="2@t", now=NOW)
    assert stored is not None and stored.item_status == "done"
    assert submit(db, ann, one, YES, now=NOW).version == 2  # in the app it is now an edit
    with pytest.raises(LeaseLost):
        submit(db, bob, one, YES, now=NOW)
    # an external review of an item someone then claims: nobody else is served it
    submit_external(db, two, "bob", YES, external_id="3@t", now=NOW)
    assert claim(db, reviewers["cy"], now=NOW) is None
    assert queue_status(db, now=NOW).done == 2


def test_tenants_gold_and_inactive_accounts_are_refused(db, reviewers):
    r = add_responses(db, 3, tenants=("acme", "globex"))
    acme, globex, _ = queue_items(db, r)
    accounts.add_reviewer(db, "gx", tenants=["globex"])
    with pytest.raises(NotFoundError):
        submit_external(db, acme, "gx", NO, external_id="1@t", now=NOW)
    assert submit_external(db, globex, "gx", NO, external_id="2@t", now=NOW) is not None
    accounts.set_active(db, "bob", False)
    with pytest.raises(Forbidden):
        submit_external(db, acme, "bob", NO, external_id="3@t", now=NOW)
    with pytest.raises(UsageError, match="reviewer name"):
        submit_external(db, acme, "no spaces please", NO, external_id="4@t", now=NOW)
    (gold,) = add_gold(db, {r[2]: {"hallucination": "no"}}, queue="gold").added
    with pytest.raises(NotFoundError, match="gold"):
        submit_external(db, gold, "ann", NO, external_id="5@t", now=NOW)
    assert open_items(db, queue="gold") == []


def test_imported_annotators_get_only_the_tenants_of_what_they_annotated(db, reviewers):
    """An outside tool's user never gains other tenants' data by being imported."""
    acme, globex, initech = queue_items(
        db, add_responses(db, 3, tenants=("acme", "globex", "initech"))
    )
    created = external_reviewers(
        db, {"lee": [acme, globex, acme], "ann": [initech], "kim": [initech]}
    )
    assert created == ["lee", "kim"]  # ann is known: left as an admin made her
    assert accounts.get_reviewer(db, "lee").tenants == ("acme", "globex")
    assert accounts.get_reviewer(db, "kim").tenants == ("initech",)
    assert submit_external(db, globex, "lee", NO, external_id="1@t", now=NOW) is not None
    with pytest.raises(NotFoundError):  # initech's item stays out of lee's reach
        submit_external(db, initech, "lee", NO, external_id="2@t", now=NOW)
    assert open_items(db, viewer=accounts.get_reviewer(db, "kim"))[0].response.tenant == "initech"


def test_imported_annotators_of_a_single_tenant_store_see_every_tenant(db):
    (item,) = queue_items(db, add_responses(db, 1, tenants=(None,)))
    assert external_reviewers(db, {"solo": [item]}) == ["solo"]
    assert accounts.get_reviewer(db, "solo").tenants is None
