"""final_labels: single, consensus, adjudicated, imported; the binary view; None when undecided."""

from __future__ import annotations

from datetime import timedelta

import pytest

from evalkit.errors import UsageError
from evalkit.review import adjudicate, claim, final_labels, submit
from tests.review.conftest import T0, add_responses, import_label, queue_items

NOW = T0 + timedelta(days=30)


def review(db, reviewer, item_id, **labels):
    got = claim(db, reviewer, now=NOW)
    assert got is not None and got.item_id == item_id
    return submit(db, reviewer, item_id, labels, now=NOW)


def as_tuples(rows):
    return [(r.response_id, r.value, r.positive, r.source, r.reviewers) for r in rows]


def test_single_consensus_disputed_adjudicated_and_imported(db, reviewers):
    ann, bob, judge = reviewers["ann"], reviewers["bob"], reviewers["judge"]
    r = add_responses(db, 6)
    single = queue_items(db, r[:1])[0]
    agree, disagree, waiting = queue_items(db, r[1:4], k=2)
    review(db, ann, single, hallucination="yes", harm={"value": "high", "category": "privacy"})
    review(db, ann, agree, hallucination="no", tone="impolite")
    review(db, bob, agree, hallucination="no", tone="impolite")
    review(db, ann, disagree, hallucination="no", harm="none")
    result = review(db, bob, disagree, hallucination="yes", harm="none")
    assert result.item_status == "disputed"
    review(db, ann, waiting, hallucination="yes")  # one of two reviews: no final label yet
    import_label(db, r[4], "hallucination", True)
    import_label(db, r[0], "hallucination", False)  # the review wins over the import

    assert as_tuples(final_labels(db, "hallucination")) == [
        (r[0], "yes", True, "single", 1),
        (r[1], "no", False, "consensus", 2),
        (r[2], None, None, "consensus", 2),
        (r[4], "true", True, "imported", 0),
    ]
    adjudicate(db, judge, disagree, {"hallucination": "yes"}, now=NOW)
    rows = {f.response_id: f for f in final_labels(db, "hallucination")}
    assert (rows[r[2]].value, rows[r[2]].positive, rows[r[2]].source) == (
        "yes",
        True,
        "adjudicated",
    )

    assert as_tuples(final_labels(db, "harm")) == [
        (r[0], "high", True, "single", 1),
        (r[2], "none", False, "consensus", 2),
    ]
    assert as_tuples(final_labels(db, "impolite")) == [(r[1], "impolite", True, "consensus", 2)]


def test_unsure_is_no_decision_and_imports_map_tone(db, reviewers):
    r = add_responses(db, 3)
    (item,) = queue_items(db, r[:1])
    review(db, reviewers["ann"], item, hallucination="unsure")
    import_label(db, r[1], "tone", "impolite")
    import_label(db, r[2], "tone", "polite")
    import_label(db, r[2], "impolite", True, source="other")  # the boolean head is preferred
    assert as_tuples(final_labels(db, "hallucination")) == [(r[0], "unsure", None, "single", 1)]
    assert as_tuples(final_labels(db, "impolite")) == [
        (r[1], "impolite", True, "imported", 0),
        (r[2], "true", True, "imported", 0),
    ]


def test_an_edit_replaces_the_reviewers_answer(db, reviewers):
    r = add_responses(db, 1)
    (item,) = queue_items(db, r)
    first = review(db, reviewers["ann"], item, hallucination="no")
    again = submit(db, reviewers["ann"], item, {"hallucination": "yes"}, now=NOW)
    assert (first.version, again.version) == (1, 2)
    assert as_tuples(final_labels(db, "hallucination")) == [(r[0], "yes", True, "single", 1)]


def test_filters_on_tenant_and_time(db, reviewers):
    r = add_responses(db, 4, tenants=("acme", "globex"))
    for rid in r:
        import_label(db, rid, "harm", True)
    assert [f.response_id for f in final_labels(db, "harm", tenant="globex")] == [r[1], r[3]]
    since, until = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    assert [f.response_id for f in final_labels(db, "harm", since=since, until=until)] == r[1:3]


def test_unknown_head_is_a_usage_error(db):
    with pytest.raises(UsageError, match="heads: hallucination, harm, impolite"):
        final_labels(db, "tone")


def test_a_response_sent_back_for_a_second_look_keeps_its_label_until_it_is_reviewed(db, reviewers):
    """Learn's suspect labels (and guard flags) queue a labelled response again; until someone
    reviews it anew, the decision it has stays final, for training and for watch's rates."""
    from evalkit.sample import enqueue_flagged

    r = add_responses(db, 2)
    first, other = queue_items(db, r)
    review(db, reviewers["ann"], first, hallucination="yes")
    review(db, reviewers["ann"], other, hallucination="no")
    again = enqueue_flagged(
        db, [r[0]], reason="suspect label", strategy="suspect", queue="suspects", now=NOW
    )
    assert len(again.added) == 1
    assert as_tuples(final_labels(db, "hallucination")) == [
        (r[0], "yes", True, "single", 1),
        (r[1], "no", False, "single", 1),
    ]
    # The second look disagrees: two reviewers, no majority, so undecided until adjudicated.
    got = claim(db, reviewers["bob"], now=NOW, queue="suspects")
    assert got is not None and got.response.id == r[0]
    submit(db, reviewers["bob"], got.item_id, {"hallucination": "no"}, now=NOW)
    assert as_tuples(final_labels(db, "hallucination"))[0] == (r[0], None, None, "consensus", 2)
