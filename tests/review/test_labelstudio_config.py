"""The Label Studio bridge's pure parts: the labelling config mirrors the schema, results read
back into the schema's submission (no server needed; the round trip is in
test_labelstudio_roundtrip.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from label_studio_sdk.label_interface import LabelInterface

from evalkit.errors import UsageError
from evalkit.review import labelstudio as bridge
from evalkit.review.schema import GENERAL, HEADS


def test_the_config_has_every_head_choice_key_and_field_of_the_schema():
    config = bridge.label_config()
    LabelInterface(config)  # Label Studio's own parser accepts it
    root = ET.fromstring(config)
    choices = {c.get("name"): c for c in root.iter("Choices")}
    for head in HEADS:
        tag = choices[head.name]
        assert (tag.get("toName"), tag.get("required")) == ("response", "true")
        got = [(c.get("value"), c.get("hotkey")) for c in tag.iter("Choice")]
        assert got == [(c.value, c.key) for c in head.choices]
        for f in head.fields:
            assert f"{head.name}__{f.name}" in {
                t.get("name") for t in root if t.tag in ("Choices", "TextArea")
            }
    assert {t.get("name") for t in root.iter("TextArea")} >= {
        f.name for f in GENERAL if f.kind == "text"
    }
    # the model's output is a Text object (shown as text), never HyperText (rendered HTML)
    assert [t.get("name") for t in root.iter("Text")][:3] == ["prompt", "context", "response"]
    assert not list(root.iter("HyperText"))


def test_the_category_shows_only_when_there_is_harm():
    root = ET.fromstring(bridge.label_config())
    category = next(c for c in root.iter("Choices") if c.get("name") == "harm__category")
    assert category.get("whenTagName") == "harm"
    assert category.get("whenChoiceValue") == "low,medium,high,critical"


def test_guideline_text_with_quotes_and_angle_brackets_stays_an_attribute():
    from dataclasses import replace

    odd = replace(HEADS[0], guideline='Say "no" if <b>unsure</b> & move on')
    root = ET.fromstring(bridge.label_config([odd]))
    assert 'Say "no" if <b>unsure</b> & move on' in [t.get("value") for t in root.iter("Text")]


def _region(name: str, value: dict) -> dict:
    return {"from_name": name, "to_name": "response", "type": "x", "value": value}


def test_a_result_reads_back_into_the_schema_submission():
    result = [
        _region("hallucination", {"choices": ["yes"]}),
        _region("hallucination__span", {"text": ["made", "up"]}),
        _region("tone", {"choices": ["neutral"]}),
        _region("tone__off_brand", {"choices": ["true"]}),
        _region("harm", {"choices": ["low"]}),
        _region("harm__category", {"choices": ["other"]}),
        _region("correction", {"text": ["Say 30 days."]}),
    ]
    sub = bridge.submission_from_result(result, seconds=4.5)
    assert {k: (v.value, dict(v.fields)) for k, v in sub.labels.items()} == {
        "hallucination": ("yes", {"span": "made\nup"}),
        "tone": ("neutral", {"off_brand": True}),
        "harm": ("low", {"category": "other"}),
    }
    assert (sub.correction, sub.seconds) == ("Say 30 days.", 4.5)


@pytest.mark.parametrize(
    ("result", "message"),
    [
        ([], "at least one head"),
        ([_region("harm", {"choices": ["high"]})], "category"),
        ([_region("hallucination", {"choices": ["maybe"]})], "expected one of"),
    ],
)
def test_a_result_the_schema_refuses_is_an_error(result, message):
    with pytest.raises(UsageError, match=message):
        bridge.submission_from_result(result)


def test_a_task_carries_the_evalkit_ids_and_every_config_variable():
    task = bridge.task_for(7, "r-7", None, None, "<script>x</script>")
    assert task == {
        "data": {
            "evalkit_item_id": 7,
            "evalkit_response_id": "r-7",
            "prompt": "",
            "context": "",
            "response": "<script>x</script>",
        }
    }
