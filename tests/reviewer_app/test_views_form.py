"""The label form's rules, from the schema: keys, selection, what is missing, the submission."""

from __future__ import annotations

import pytest
from streamlit.elements.lib.shortcut_utils import normalize_shortcut
from views import form

from evalkit.errors import UsageError
from evalkit.review.schema import HEADS, keyboard_keys


def test_every_schema_key_is_a_valid_streamlit_shortcut_and_bound_once():
    keys = form.schema_keys()
    assert len(keys) == len(set(k.lower() for k in keys))
    for key in keys:
        normalize_shortcut(key)  # raises for C, R, punctuation and unknown names
    assert {k.lower() for k in keys[:-2]} == set(keyboard_keys())


def test_the_form_shows_every_head_with_its_guideline_and_marks_the_selection():
    forms = form.head_forms({"hallucination": "no"})
    assert [f.name for f in forms] == [h.name for h in HEADS]
    hall = forms[0]
    assert hall.guideline == HEADS[0].guideline
    assert [(b.value, b.key, b.selected) for b in hall.choices] == [
        ("yes", "Y", False),
        ("no", "N", True),
        ("unsure", "U", False),
    ]


def test_pressing_a_key_twice_undoes_it_and_harm_none_drops_the_category():
    choices = form.press({}, "harm", "high")
    choices = form.press(choices, "harm.category", "privacy")
    assert choices == {"harm": "high", "harm.category": "privacy"}
    assert form.press(choices, "harm.category", "privacy") == {"harm": "high"}
    assert form.press(choices, "harm", "none") == {"harm": "none"}


def test_a_flag_toggles():
    on = form.press({}, "tone.off_brand", "true")
    assert on == {"tone.off_brand": True}
    assert form.press(on, "tone.off_brand", "true") == {"tone.off_brand": False}


def test_missing_names_unanswered_heads_and_a_needed_category():
    assert form.missing({}) == ["Hallucination", "Tone", "Harm"]
    choices = {"hallucination": "no", "tone": "polite", "harm": "low"}
    assert form.missing(choices) == ["Harm: category"]
    assert form.missing({**choices, "harm": "none"}) == []


def test_the_submission_carries_choices_fields_and_texts():
    choices = {
        "hallucination": "yes",
        "tone": "impolite",
        "tone.off_brand": True,
        "harm": "medium",
        "harm.category": "financial",
    }
    texts = {"hallucination.span": " 90 days ", "note": "", "correction": "30 days."}
    sub = form.submission(choices, texts, seconds=12.34)
    assert {k: (v.value, dict(v.fields)) for k, v in sub.labels.items()} == {
        "hallucination": ("yes", {"span": "90 days"}),
        "tone": ("impolite", {"off_brand": True}),
        "harm": ("medium", {"category": "financial"}),
    }
    assert (sub.correction, sub.note, sub.seconds) == ("30 days.", None, 12.3)


def test_an_incomplete_submission_is_refused_by_the_schema():
    with pytest.raises(UsageError, match="category"):
        form.submission({"harm": "high"}, {}, seconds=1)
