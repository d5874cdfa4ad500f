"""Cheap tests that let redaction skip a text its rules cannot change.

Ingest redacts several fields per record at 20k records/s, and most texts hold no PII, so
each rule sits behind a test that only asks whether some substring is there (a character, a
marker, a short regex without look-arounds). A text with none of them costs a few microseconds
and no regex scan. The tests live apart from the patterns because they obey their own contract,
which ``tests/capture/test_redact_gates.py`` checks for every subset of the kinds:

* **False only when the rule would leave the text unchanged.** Each test is written against
  one pattern (named in its docstring); changing a pattern means checking its test still
  covers it. The secret rule asks the same tests before each of its scans.
* **Substring-monotone.** True for ``s`` means True for any ``a + s + b``, so a caller may test
  a whole record serialised as JSON at once (``Redactor.may_contain``, ``redact_record``).

Shortcuts that guard a single regex inside one rule (the ``@`` before the e-mail scan, the
phone layout check) stay with that rule in ``patterns``.
"""

from __future__ import annotations

import re

# Every card, phone and IPv4 address is a run of at least seven digits and separators that
# starts and ends with a digit; every IPv6 address of three groups or more (the only ones
# redacted) has two colons with at most four hex digits between them. Prose with small numbers
# ("3 items", "in 2024") fails both tests and skips the three digit rules. The run test works
# on the UTF-8 bytes mapped to three classes by ``bytes.translate`` (digits to "0", run
# separators to ".", the rest to "x"), so the regex starts from a literal that the engine finds
# without trying every position.
_DIGITS = b"0123456789"
_RUN_CLASSES = bytes(
    ord("0") if c in _DIGITS else ord(".") if c in b" .()/-" else ord("x") for c in range(256)
)
_DIGIT_RUN = re.compile(rb"0[0.]{5,}0").search
_IPV6_GATE = re.compile(r":[0-9A-Fa-f]{0,4}:").search


def may_hold_digit_pii(text: str) -> bool:
    """False only if none of the card, ip and phone rules (``patterns``) can match."""
    if ":" in text and _IPV6_GATE(text):
        return True
    raw = text.encode("utf-8", "surrogatepass")
    return _DIGIT_RUN(raw.translate(_RUN_CLASSES)) is not None


# How every key word of ``secrets._KEY_VALUE`` ends. A key and its value are joined by
# ":" or "=", which prose has few of, so the cheap test looks left of each separator (found
# with memchr) for a key word instead of searching the text for six words.
_KEY_ENDS = ("key", "secret", "password", "passwd", "pwd", "token")


def may_have_key_value(text: str) -> bool:
    """False only if ``_KEY_VALUE`` cannot match: no key word right before a ":" or "="."""
    for separator in ":=":
        at = text.find(separator)
        while at >= 0:
            end = at  # the head is: key word, optional quote, spaces or tabs, separator
            while end > 0 and text[end - 1] in " \t":
                end -= 1
            if end > 0 and text[end - 1] in "\"'":
                end -= 1
            if text[max(0, end - 8) : end].lower().endswith(_KEY_ENDS):
                return True
            at = text.find(separator, at + 1)
    return False


# Where each vendor format of ``secrets._SECRET_TOKEN`` must show a character that prose
# rarely has: the character, then the markers with that character at the same offset. Looking
# around each occurrence of the character (memchr finds them) is several times cheaper than
# searching for every marker.
_MARKERS_AROUND: tuple[tuple[str, tuple[tuple[int, tuple[str, ...]], ...]], ...] = (
    ("-", ((2, ("sk-",)), (4, ("xox",)))),
    (
        "_",
        (
            (1, ("k_live_", "k_test_")),
            (3, ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
            (6, ("github_pat_",)),
        ),
    ),
    ("J", ((2, ("eyJ",)),)),
    ("A", ((0, ("AKIA", "ASIA", "AIza")),)),
)


def may_have_vendor_key(text: str) -> bool:
    """False only if ``_SECRET_TOKEN`` cannot match: none of its formats' markers is there."""
    for char, around in _MARKERS_AROUND:
        at = text.find(char)
        while at >= 0:
            for offset, markers in around:
                if at >= offset and text.startswith(markers, at - offset):
                    return True
            at = text.find(char, at + 1)
    return False


def may_have_bearer(text: str) -> bool:
    """Whether "bearer" is there as people write it; ``secrets`` asks the same."""
    return "earer" in text or "EARER" in text


def may_have_secret(text: str) -> bool:
    """False only if ``secrets`` would find nothing (it asks the same questions)."""
    return may_have_vendor_key(text) or may_have_bearer(text) or may_have_key_value(text)
