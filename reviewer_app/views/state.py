"""Every ``st.session_state`` key the app uses, in one place.

Pages never spell a key themselves: a typo would be a silent new key, and two pages sharing a
key by accident would leak one page's state into another.
"""

from __future__ import annotations

#: The logged-in reviewer (``views.session.AppSession``); absent when logged out.
SESSION = "evalkit.session"
#: A message for the login page after a logout or an expired session.
LOGIN_NOTICE = "evalkit.login_notice"
#: The item the reviewer holds a lease on (``views.label.Current``), if any.
CURRENT_ITEM = "evalkit.label.current"
#: Choices made so far on the current item: head → value.
CHOICES = "evalkit.label.choices"
#: Items labelled and skipped in this browser session, for the progress line.
LABELLED_COUNT = "evalkit.label.labelled"
SKIPPED_COUNT = "evalkit.label.skipped"
#: A one-line message about the last submit / skip, shown above the next item.
LABEL_NOTICE = "evalkit.label.notice"
#: Adjudication: items passed over in this session, the last settlement's message, and the
#: prefix of the page's widget keys.
ADJUDICATION_PASSED = "evalkit.adjudicate.passed"
ADJUDICATION_NOTICE = "evalkit.adjudicate.notice"
ADJUDICATION_PREFIX = "evalkit.adjudicate."


def button_key(target: str, value: str) -> str:
    """A choice button's widget key. The same on every item: a key pressed while the next item
    is still being drawn must reach that item's button rather than a button that is gone."""
    return f"evalkit.label.button.{target}={value}"


def text_key(item_id: int, name: str) -> str:
    """A text box's widget key (span, note, correction), per item like the buttons."""
    return f"evalkit.label.text.{item_id}.{name}"


def adjudication_picks(item_id: int) -> str:
    """Per-head picks the adjudicator made on one disputed item (head → value)."""
    return f"evalkit.adjudicate.picks.{item_id}"
