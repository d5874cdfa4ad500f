"""The label schema: one definition, machine-readable, validating what front ends send."""

from __future__ import annotations

import json

import pytest

from evalkit.errors import UsageError
from evalkit.review import schema


def test_describe_is_json_and_names_every_head_and_key():
    described = json.loads(json.dumps(schema.describe()))
    assert [h["name"] for h in described["heads"]] == ["hallucination", "tone", "harm"]
    harm = described["heads"][2]
    assert [c["value"] for c in harm["choices"]] == ["none", "low", "medium", "high", "critical"]
    assert harm["fields"][0]["name"] == "category" and harm["fields"][0]["required_unless"] == [
        "none"
    ]
    assert [f["name"] for f in described["general"]] == ["correction", "note", "seconds"]
    keys = schema.keyboard_keys()
    bound = [c.key for h in schema.HEADS for c in h.choices]
    bound += [f.key for h in schema.HEADS for f in h.fields if f.key]
    bound += [c.key for h in schema.HEADS for f in h.fields for c in f.choices]
    assert len(bound) == len(set(bound)) == len(keys)  # no key does two things
    assert keys["y"] == "hallucination=yes" and keys["b"] == "tone.off_brand"


def test_parse_submission_normalizes_and_keeps_fields():
    sub = schema.parse_submission(
        {
            "hallucination": {"value": "yes", "span": "30 days", "note": "it is 14"},
            "tone": {"value": "polite", "off_brand": True},
            "harm": "none",
        },
        correction="Refunds take 14 days.",
        seconds=12,
    )
    assert sub.labels["hallucination"].fields == {"span": "30 days", "note": "it is 14"}
    assert sub.labels["tone"].fields == {"off_brand": True}
    assert sub.labels["harm"].value == "none" and sub.seconds == 12.0
    assert sub.correction == "Refunds take 14 days." and sub.note is None


@pytest.mark.parametrize(
    ("labels", "general", "message"),
    [
        ({}, {}, "at least one head"),
        ({"halucination": "yes"}, {}, "unknown label head 'halucination'"),
        ({"hallucination": "maybe"}, {}, r"labels.hallucination.value: expected one of yes, no"),
        ({"harm": "high"}, {}, "labels.harm.category: required when the answer is 'high'"),
        ({"harm": {"value": "low", "category": "x"}}, {}, "expected one of dangerous_advice"),
        ({"tone": {"value": "polite", "off_brand": "yes"}}, {}, "expected true or false"),
        ({"tone": {"value": "polite", "colour": 1}}, {}, "unknown field"),
        ({"tone": "polite"}, {"seconds": -1}, "seconds: expected a number"),
        ({"tone": "polite"}, {"mood": "x"}, "unknown submission field"),
    ],
)
def test_bad_submissions_name_the_field(labels, general, message):
    with pytest.raises(UsageError, match=message):
        schema.parse_submission(labels, **general)
