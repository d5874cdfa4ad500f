"""Untrusted text split into prose and code blocks: nothing is lost, nothing interpreted."""

from __future__ import annotations

import pytest
from views.text import Segment, segments


def test_prose_and_fenced_code_come_apart_in_order():
    text = "Try this:\n\n```python\nprint('<b>hi</b>')\n```\nThen <script>alert(1)</script>."
    assert segments(text) == [
        Segment("prose", "Try this:"),
        Segment("code", "print('<b>hi</b>')", "python"),
        Segment("prose", "Then <script>alert(1)</script>."),
    ]


def test_an_unclosed_fence_runs_to_the_end_and_a_strange_info_string_is_plain():
    assert segments("a\n~~~~ <img onerror=x>\nb\n```\nc") == [
        Segment("prose", "a"),
        Segment("code", "b\n```\nc", None),
    ]


@pytest.mark.parametrize("blank", [None, "", " \n\t"])
def test_blank_text_has_no_segments(blank):
    assert segments(blank) == []


def test_nothing_is_lost_between_segments():
    text = "x\n```js\nlet a = '<svg/onload=1>'\n```\ny **z** [l](javascript:alert(1))"
    joined = "".join(s.body for s in segments(text))
    assert joined.replace("\n", "") == text.replace("\n", "").replace("```js", "").replace(
        "```", ""
    )
