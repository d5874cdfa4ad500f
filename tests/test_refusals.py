"""One definition of a refusal: the gate's assertions, watch's refusal flag and the classifier's
``refusal`` signal agree on every text, because all three read ``evalkit.refusals``."""

from __future__ import annotations

from evalkit.gate import Case, Check, registered
from evalkit.learn.data import Example
from evalkit.learn.signals import SIGNAL_NAMES, CheapSignals
from evalkit.refusals import is_refusal, refusal_phrase
from evalkit.watch.data import is_refusal as watch_is_refusal

TEXTS = {
    "I'm sorry, but I can't help with that request.": True,
    "I can\u2019t assist you with this.": True,  # a typographic apostrophe
    "As an AI language model, I cannot browse the web.": True,
    "I must decline to share personal data.": True,
    "That is not something I can help with.": True,
    "Refunds take up to 30 days after the parcel arrives.": False,
    # the classifier's old private pattern took these for refusals
    "I can't believe how fast the new plan is: it ships in a day.": False,
    "You are not able to change the address after dispatch.": False,
}


def test_the_phrase_is_found_and_named():
    for text, refuses in TEXTS.items():
        assert is_refusal(text) is refuses, text
    assert refusal_phrase("Sorry. I cannot provide that.") == "I cannot provide"
    assert refusal_phrase("Here is the answer.") is None


def test_gate_watch_and_learn_share_it():
    case = Case(id="c1", prompt="q")
    refusal, no_refusal = registered()["refusal"], registered()["no_refusal"]
    examples = [Example(response=text) for text in TEXTS]
    signals = CheapSignals().fit(examples).transform(examples)
    column = SIGNAL_NAMES.index("refusal")
    for row, (text, refuses) in enumerate(TEXTS.items()):
        check = Check(output=text, case=case)
        assert refusal.fn(check).passed is refuses, text
        assert no_refusal.fn(check).passed is not refuses, text
        assert watch_is_refusal(text) is refuses, text
        # standardized, so compare against the column's two values
        assert bool(signals[row, column] > signals[:, column].min()) is refuses, text
