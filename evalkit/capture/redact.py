"""PII redaction applied to every text field before anything is stored.

Each kind in ``PII_KINDS`` is replaced by a fixed token (``REPLACEMENTS``), so a stored text
still reads naturally ("mail me at [EMAIL]") and counts per kind go into the ingest report.

Why it is built this way:

* **Order.** Secrets run first because keys contain digits and ``@`` that the other rules
  would otherwise take apart; then email (an address may contain digits), card, ip, phone.
* **Speed.** Ingest redacts several fields per record at 20k records/s, so each rule sits
  behind a substring pre-check (a digit, ``@``, a secret marker) and a text with none of them
  costs a few microseconds and no regex scan.
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
* **Idempotent.** Tokens contain no digit, ``@`` or secret marker, and no rule can match
  them. Because rules look at their neighbours ("a digit right before it: part of a longer
  number"), replacing one item can free its neighbour for a second look, so redaction repeats
  until a pass changes nothing. That makes ``redact(redact(x)) == redact(x)`` hold by
  construction; a second pass is usually one cheap pre-check, since the first removed the
  digits and ``@`` that triggered it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable

from evalkit.records import PII_KINDS

REPLACEMENTS: dict[str, str] = {
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "card": "[CARD]",
    "ip": "[IP]",
    "secret": "[SECRET]",
}

#: Rules run in this order (see the module docstring).
_ORDER = ("secret", "email", "card", "ip", "phone")

#: No item of any kind is shorter than this ("a@b.co"); metadata is full of shorter strings.
_SHORTEST = 6

#: Passes are repeated until nothing changes; each change removes text outside tokens, so
#: this cap is only a guard against a future rule that breaks that property.
_MAX_PASSES = 8

_TOKEN = r"\[(?:EMAIL|PHONE|CARD|IP|SECRET)\]"
_HAS_DIGIT = re.compile(r"[0-9]").search

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


def _may_hold_digit_pii(text: str) -> bool:
    if ":" in text and _IPV6_GATE(text):
        return True
    raw = text.encode("utf-8", "surrogatepass")
    return _DIGIT_RUN(raw.translate(_RUN_CLASSES)) is not None


# --- secret ---------------------------------------------------------------------------------

# Vendor key formats, matched case-sensitively as the vendors issue them.
_SECRET_TOKEN = re.compile(
    r"""
    (?<![\w-])
    (?:
        sk-(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{20,}      # OpenAI sk-, sk-proj-; Anthropic sk-ant-
      | [srp]k_(?:live|test)_[A-Za-z0-9]{10,}          # Stripe
      | A(?:KI|SI)A[0-9A-Z]{16}(?![0-9A-Za-z])         # AWS access key id
      | gh[pousr]_[A-Za-z0-9]{20,}                     # GitHub tokens
      | github_pat_[A-Za-z0-9_]{20,}
      | xox[abprs]-[A-Za-z0-9-]{10,}                   # Slack
      | AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])         # Google API key
      | eyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+   # JWT
    )
    """,
    re.VERBOSE,
)

# "Bearer <token>": the token needs a digit or 24+ characters, so prose such as
# "Bearer authentication" or a placeholder like "Bearer YOUR_TOKEN" is left alone.
_BEARER = re.compile(r"(?<![\w-])(?P<head>(?i:bearer)[ \t]+)(?P<tok>[A-Za-z0-9._~+/-]{8,}=*)")

# key=value / key: value / "key": "value". The key name (any prefix, e.g. OPENAI_API_KEY,
# db_password, csrf_token) stays; only the value goes. A value that already is a token is
# skipped so a second pass neither changes nor counts it. Spelling the first letter as a plain
# class lets the engine skip ahead to candidates: a case-insensitive alternation alone is
# tried at every position and costs six times as much.
_KEY_VALUE = re.compile(
    r"""
    (?P<head>
        [AaPpSsTt]                      # first letter of a key word, then the rest of it
        (?:(?<=[Aa])(?i:pi[_-]?key|ccess[_-]?key)
          |(?<=[Pp])(?i:rivate[_-]?key|ass(?:word|wd)|wd)
          |(?<=[Ss])(?i:ecret(?:[_-]?key)?)
          |(?<=[Tt])(?i:oken))
        ["']?[ \t]*[:=][ \t]*
    )
    (?:
        "(?!TOKEN")(?P<dq>[^"\n]+)"
      | '(?!TOKEN')(?P<sq>[^'\n]+)'
      | (?P<bare>[^\s"',;&()\[\]{}<>]+)
    )
    """.replace("TOKEN", _TOKEN),
    re.VERBOSE,
)
# How every key word above ends. A key and its value are joined by ":" or "=", which prose
# has few of, so the cheap test looks left of each separator (found with memchr) for a key word
# instead of searching the text for six words.
_KEY_ENDS = ("key", "secret", "password", "passwd", "pwd", "token")


def _may_have_key_value(text: str) -> bool:
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


# Where each vendor format must show a character that prose rarely has: the character, then
# the markers with that character at the same offset. Looking around each occurrence of the
# character (memchr finds them) is several times cheaper than searching for every marker.
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


def _may_have_vendor_key(text: str) -> bool:
    """False only if ``_SECRET_TOKEN`` cannot match: none of its formats' markers is there."""
    for char, around in _MARKERS_AROUND:
        at = text.find(char)
        while at >= 0:
            for offset, markers in around:
                if at >= offset and text.startswith(markers, at - offset):
                    return True
            at = text.find(char, at + 1)
    return False


def _may_have_bearer(text: str) -> bool:
    return "earer" in text or "EARER" in text


def _may_have_secret(text: str) -> bool:
    """False only if ``_redact_secrets`` would find nothing (it asks the same questions)."""
    return _may_have_vendor_key(text) or _may_have_bearer(text) or _may_have_key_value(text)


def _redact_secrets(text: str) -> tuple[str, int]:
    total = 0
    if _may_have_vendor_key(text):
        text, n = _SECRET_TOKEN.subn(REPLACEMENTS["secret"], text)
        total += n
    if _may_have_bearer(text):
        text, n = _sub(_BEARER, _bearer, text)
        total += n
    if _may_have_key_value(text):
        text, n = _sub(_KEY_VALUE, _key_value, text)
        total += n
    return text, total


def _bearer(m: re.Match[str]) -> str | None:
    token = m["tok"]
    if len(token) >= 24 or _HAS_DIGIT(token):
        return m["head"] + REPLACEMENTS["secret"]
    return None


def _key_value(m: re.Match[str]) -> str | None:
    secret = REPLACEMENTS["secret"]
    if m["dq"] is not None:
        return f'{m["head"]}"{secret}"'
    if m["sq"] is not None:
        return f"{m['head']}'{secret}'"
    if m["head"].rstrip().endswith(":") and not _looks_secret(m["bare"]):
        # "your password: open Settings…" is prose; "password: hunter2" is a credential.
        return None
    return m["head"] + secret


def _looks_secret(word: str) -> bool:
    """A bare word after ``key:``: a credential has a digit or symbol, or is long."""
    return len(word) >= 16 or not word.isalpha()


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


def _redact_emails(text: str) -> tuple[str, int]:
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


def _redact_cards(text: str) -> tuple[str, int]:
    return _sub(_CARD, _card, text)


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
    if width < 3 or not _HAS_DIGIT(candidate):
        return None
    try:
        ipaddress.IPv6Address(candidate)
    except ValueError:
        return None
    return REPLACEMENTS["ip"]


def _redact_ips(text: str) -> tuple[str, int]:
    total = 0
    # Written out, IPv6 has "::" or at least six colons (seven, or six and an IPv4 tail).
    if "::" in text or text.count(":") >= 6:
        text, n = _sub(_IPV6, _ipv6, text)
        total += n
    if "." in text:
        text, n = _sub(_IPV4, _ipv4, text)
        total += n
    return text, total


# --- phone ----------------------------------------------------------------------------------

_PHONE = re.compile(
    r"""
    [+(0-9](?<![\w+.,$-][+(0-9])(?<![0-9][ .-][+(0-9])     # first character; no number before
    (?:
        (?<=\+)(?P<intl>[1-9][0-9]{0,14}                     # +44 20 7946 0958, +14155550199
            (?:[ .-]?\([0-9]{1,5}\)[ .-]?[0-9]{1,8})?          # +1 (415) ..., +44 (0)20 ...
            (?:[ .-][0-9]{1,8}){0,6})
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


def _redact_phones(text: str) -> tuple[str, int]:
    if "+" not in text and not _PHONE_GATE.search(text):
        return text, 0
    return _sub(_PHONE, _phone, text)


# --- driver ---------------------------------------------------------------------------------


def _sub(
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


_Rule = Callable[[str], tuple[str, int]]
#: Per kind, a test that is False only when that kind's rule cannot change the text.
_GATES: dict[str, Callable[[str], bool]] = {
    "secret": _may_have_secret,
    "email": lambda text: "@" in text,
    "card": _may_hold_digit_pii,
    "ip": _may_hold_digit_pii,
    "phone": _may_hold_digit_pii,
}
_DIGIT_RULES: dict[str, _Rule] = {
    "card": _redact_cards,
    "ip": _redact_ips,
    "phone": _redact_phones,
}
_RULES: dict[str, _Rule] = {
    "secret": _redact_secrets,
    "email": _redact_emails,
    **_DIGIT_RULES,
}


class Redactor:
    """Replaces PII of the chosen kinds with ``REPLACEMENTS`` tokens.

    ``kinds`` is any subset of ``PII_KINDS``; order does not matter (rules always run in the
    order the module docstring explains). A single string is taken as one kind.
    """

    def __init__(self, kinds: Iterable[str] = PII_KINDS) -> None:
        chosen = (kinds,) if isinstance(kinds, str) else tuple(kinds)
        unknown = sorted(set(chosen) - set(PII_KINDS))
        if unknown:
            raise ValueError(
                f"unknown PII kind(s) {', '.join(unknown)}; known: {', '.join(PII_KINDS)}"
            )
        self.kinds = chosen
        self._rules = tuple((kind, _RULES[kind]) for kind in _ORDER if kind in chosen)
        self._digit_free_rules = tuple(r for r in self._rules if r[0] not in _DIGIT_RULES)
        self._gates = tuple(dict.fromkeys(_GATES[kind] for kind, _ in self._rules))

    def may_contain(self, text: str) -> bool:
        """False only if ``redact(text)`` would change nothing: the rules' own cheap tests.

        Each test only asks whether some substring is there (a character, a marker, a short
        regex without look-arounds), so one that is False for a text is False for every part
        of it. That lets a caller test a whole JSON document (``json.dumps`` of metadata) at
        once and skip its strings, as long as the document holds no escapes (a ``\\``), which
        would make a string differ from its serialised form.
        """
        return len(text) >= _SHORTEST and any(gate(text) for gate in self._gates)

    def redact(self, text: str) -> tuple[str, dict[str, int]]:
        """Return ``text`` with PII replaced, and how many items of each kind were replaced.

        The counts hold only kinds that fired. The result is a fixed point: redacting it again
        changes nothing and counts nothing.
        """
        counts: dict[str, int] = {}
        if len(text) < _SHORTEST:
            return text, counts
        for _ in range(_MAX_PASSES):
            rules = self._rules if _may_hold_digit_pii(text) else self._digit_free_rules
            changed = False
            for kind, rule in rules:
                text, n = rule(text)
                if n:
                    counts[kind] = counts.get(kind, 0) + n
                    changed = True
            if not changed:
                break
        return text, counts
