"""The patterns for personal data (e-mail, card, ip, phone) and what every redaction rule shares.

Each rule is a function ``text -> (text, count)`` that replaces what it finds with its fixed
token from ``REPLACEMENTS``; ``Redactor`` (``capture.redact``) runs them in order. Credentials
have their own module (``secrets``), as they are found by vendor formats and key names
rather than by the shape of the data.

Why the patterns are built this way:

* **Precision over recall on digits.** A number in an LLM answer is far more often a year,
  price, version, id or measurement than a phone. The phone rule therefore only accepts
  layouts people write phones in: ``+`` and a country code (7-15 digits), North American
  ``(415) 555-0199`` / ``415.555.0199`` / ``415-555-0199`` (area code and exchange 2-9),
  and national numbers with a trunk ``0`` (``020 7946 0958``, 9-12 digits). Unformatted
  runs (``4155550199``, Unix times, order ids), local ``555-0199`` and ``+`` numbers grouped
  in threes (``+1 500 000``, which also loses ``+358 401 234 567``) are left alone: a missed
  bare phone number is the price of not mangling numbers the model was asked about. The
  remaining known false positive is a list shaped like a US number (``200 300 4000``).
* **Cards need Luhn.** 13-19 digits (unbroken, or in groups split by one space or dash),
  starting 2-6 (the issuer ranges of Visa, Mastercard, Amex, Discover, JCB, UnionPay), and
  passing the Luhn check. A run that fails Luhn is left untouched: it is an order or tracking
  number, not a phone, and no rule may take part of a longer digit sequence (every digit rule
  refuses a match with a digit, or a separator and a digit, on either side).
* **Addresses are validated, not guessed.** IPv4 and IPv6 candidates go through
  ``ipaddress``. IPv6 additionally needs a decimal digit and at least three groups, so Python
  slices (``x[1::2]``), C++ scopes and ``fe80::1``-style local addresses (which identify no
  one) stay as written. A four-part version such as ``1.2.3.4`` is indistinguishable from an
  address and is redacted; three-part versions are not addresses.
* **Tokens match nothing.** A token holds no digit, ``@`` or secret marker, and no rule may
  match one: ``Redactor`` repeats its rules until a pass changes nothing, and relies on it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable

REPLACEMENTS: dict[str, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "card": "[CARD]",
    "ip": "[IP]",
    "secret": "[SECRET]",
}

has_digit = re.compile(r"[0-9]").search


def sub(
    pattern: re.Pattern[str], decide: Callable[[re.Match[str]], str | None], text: str
) -> tuple[str, int]:
    """``pattern.subn`` where ``decide`` may keep a candidate (``None``) uncounted."""
    count = 0

    def replace(m: re.Match[str]) -> str:
        nonlocal count
        out = decide(m)
        if out is None:
            return m[0]
        count += 1
        return out

    return pattern.sub(replace, text), count


# --- email ----------------------------------------------------------------------------------

_EMAIL = re.compile(
    r"""
    [A-Za-z0-9](?<![\w.%+@-][A-Za-z0-9])
    [A-Za-z0-9._%+-]{0,63}
    @
    (?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+
    [A-Za-z]{2,63}
    (?![\w-]|\.[A-Za-z0-9])
    """,
    re.VERBOSE,
)


def redact_emails(text: str) -> tuple[str, int]:
    if "@" not in text:
        return text, 0
    return _EMAIL.subn(REPLACEMENTS["email"], text)


# --- card -----------------------------------------------------------------------------------

# Patterns here start with the character class of their first character and check what comes
# before it with a look-behind, so the regex engine can skip to candidates instead of trying
# every position (about 3x faster on prose with numbers).
#
# Digit rules share one neighbour test: no word character, and no separator followed by a
# digit, on either side, so none of them can take part of a longer number. A card may be
# followed by " 12/25": a short group ending in "/" is an expiry date, not more card digits.
_CARD = re.compile(
    r"""
    [2-6](?<![\w.,+-][2-6])(?<![0-9][ -][2-6])
    (?:
        [0-9]{12,18}
      | [0-9]{3}(?P<sep>[ -])[0-9]{4,6}(?:(?P=sep)[0-9]{1,5}(?![0-9]*/)){1,3}
    )
    (?![\w]|[.,][0-9]|[ -][0-9](?![0-9]?/))
    """,
    re.VERBOSE,
)


def _luhn_ok(digits: str) -> bool:
    """True if ``digits`` (0-9 only) passes the Luhn checksum every payment card carries."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _card(m: re.Match[str]) -> str | None:
    digits = m[0].replace(" ", "").replace("-", "")
    if 13 <= len(digits) <= 19 and _luhn_ok(digits):
        return REPLACEMENTS["card"]
    return None


def redact_cards(text: str) -> tuple[str, int]:
    return sub(_CARD, _card, text)


# --- ip -------------------------------------------------------------------------------------

_IPV4 = re.compile(r"[0-9](?<![\w.][0-9])[0-9]{0,2}\.(?:[0-9]{1,3}\.){2}[0-9]{1,3}(?![\w]|\.[0-9])")
_IPV6 = re.compile(
    r"""
    (?<![\w:.])
    (?:[0-9A-Fa-f]{0,4}:){1,7}
    (?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]{1,4}|:)
    (?![\w]|:[\w:]|\.[0-9])
    """,
    re.VERBOSE,
)


def _ipv4(m: re.Match[str]) -> str | None:
    try:
        ipaddress.IPv4Address(m[0])
    except ValueError:
        return None
    return REPLACEMENTS["ip"]


def _ipv6(m: re.Match[str]) -> str | None:
    candidate = m[0]
    groups = [g for g in candidate.split(":") if g]
    # An embedded IPv4 tail (::ffff:192.0.2.1) stands for two groups.
    width = len(groups) + (1 if groups and "." in groups[-1] else 0)
    if width < 3 or not has_digit(candidate):
        return None
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    return REPLACEMENTS["ip"]


def redact_ips(text: str) -> tuple[str, int]:
    total = 0
    # Written out, IPv6 has "::" or at least six colons (seven, or six and an IPv4 tail).
    if "::" in text or text.count(":") >= 6:
        text, n = sub(_IPV6, _ipv6, text)
        total += n
    if "." in text:
        text, n = sub(_IPV4, _ipv4, text)
        total += n
    return text, total


# --- phone ----------------------------------------------------------------------------------

_PHONE = re.compile(
    r"""
    [+(0-9](?<![\w+.,$-][+(0-9])(?<![0-9][ .-][+(0-9])     # first character; no number before
    (?:
        (?<=\+)(?P<intl>[1-9][0-9]{0,14}                     # +44 20 7946 0958, +14155550199
            (?:[ .-]?\([0-9]{1,5}\)[ .-]?[0-9]{1,8})?          # +1 (415) ..., +44 (0)20 ...
            (?:[ .-][0-9]{1,10}){0,6})                        # +27 800029999
      | (?<=\()[2-9][0-9]{2}\)[ .-]?[2-9][0-9]{2}[ .-][0-9]{4}              # (415) 555-0199
      | (?<=1)[ .-]?\([2-9][0-9]{2}\)[ .-]?[2-9][0-9]{2}[ .-][0-9]{4}       # 1 (415) 555-0199
      | (?<=1)[ .-][2-9][0-9]{2}(?P<s1>[ .-])[2-9][0-9]{2}(?P=s1)[0-9]{4}   # 1-415-555-0199
      | (?<=[2-9])[0-9]{2}(?P<s2>[ .-])[2-9][0-9]{2}(?P=s2)[0-9]{4}         # 415.555.0199
      | (?<=0)(?P<trunk>[1-9][0-9]{1,4}[ -][0-9]{3,8}(?:[ -][0-9]{3,4})?)   # 020 7946 0958
      | (?<=\()(?P<trunk_paren>0[1-9][0-9]{1,4}\)[ ]?[0-9]{3,8}(?:[ -][0-9]{3,4})?)
    )
    (?![\w%]|[ .,-][0-9])
    """,
    re.VERBOSE,
)

# "+1 500 000" / "+2.750.000": a signed number grouped in thousands, not a phone.
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:([ .])[0-9]{3})(?:\1[0-9]{3})*")


def _phone(m: re.Match[str]) -> str | None:
    if m["intl"] is not None:
        if _THOUSANDS.fullmatch(m["intl"]):
            return None
        low, high = 7, 15
    elif m["trunk"] is not None or m["trunk_paren"] is not None:
        low, high = 9, 12
    else:  # North American layouts are exactly 10 or 11 digits by construction.
        return REPLACEMENTS["phone"]
    n_digits = sum(ch.isdigit() for ch in m[0])
    return REPLACEMENTS["phone"] if low <= n_digits <= high else None


# Every layout above contains a "+" or a digit, separator and three digits; texts with
# neither (most prose with numbers) skip the slower scan.
_PHONE_GATE = re.compile(r"[0-9][ .)-] ?[0-9]{3}")


def redact_phones(text: str) -> tuple[str, int]:
    if "+" not in text and not _PHONE_GATE.search(text):
        return text, 0
    return sub(_PHONE, _phone, text)
