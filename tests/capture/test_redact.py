"""PII redaction: what each kind catches, what it must leave alone, and its invariants.

Card numbers are built here with an independent Luhn helper rather than with the module's own
check, so a wrong checksum in the module cannot agree with a wrong checksum in the test.
"""

from __future__ import annotations

import string
import time

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from evalkit.capture.redact import REPLACEMENTS, Redactor
from evalkit.records import PII_KINDS

REDACTOR = Redactor()


def luhn_complete(body: str) -> str:
    """``body`` followed by the check digit that makes the whole number pass Luhn."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str(-total % 10)


def luhn_break(number: str) -> str:
    """``number`` with a wrong check digit."""
    return number[:-1] + str((int(number[-1]) + 1) % 10)


def grouped(number: str, sep: str) -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


VISA = luhn_complete("411111111111111")  # 4111 1111 1111 1111
MASTERCARD = luhn_complete("555555555555444")
AMEX = luhn_complete("37828224631000")  # 15 digits, written 4-6-5
DISCOVER = luhn_complete("601111111111111")
VISA_13 = luhn_complete("422222222222")
VISA_19 = luhn_complete("411111111111111111")


def redacts_to(text: str, expected: str, counts: dict[str, int]) -> None:
    assert REDACTOR.redact(text) == (expected, counts)


# --- each kind: positives -------------------------------------------------------------------

EMAILS = [
    ("jane.doe@example.com", "[EMAIL]"),
    ("It is 30 days, email me at a@b.example.com", "It is 30 days, email me at [EMAIL]"),
    ("first.last+tag@mail.example.co.uk.", "[EMAIL]."),
    ("<USER_1@Example.ORG>", "<[EMAIL]>"),
    ("a@x.io, b@y.io", "[EMAIL], [EMAIL]"),
]

PHONES = [
    ("+44 20 7946 0958", "[PHONE]"),
    ("call +1-202-555-0143 today", "call [PHONE] today"),
    ("(415) 555-0199", "[PHONE]"),
    ("415.555.0199", "[PHONE]"),
    ("415-555-0199", "[PHONE]"),
    ("020 7946 0958", "[PHONE]"),
    ("+49 30 901820", "[PHONE]"),
    ("+1 (415) 555-0199", "[PHONE]"),
    ("+44 (0)20 7946 0958", "[PHONE]"),
    ("1-800-555-0199", "[PHONE]"),
    ("+14155550199.", "[PHONE]."),
    ("(020) 7946 0958", "[PHONE]"),
    ("+33 1 23 45 67 89", "[PHONE]"),
    ("Tel: 07700 900123, ask for Sam", "Tel: [PHONE], ask for Sam"),
    ("call +27 800029999 now", "call [PHONE] now"),  # country code, then the number in one run
    ("+61 0412345678", "[PHONE]"),
]

CARDS = [
    (VISA, "[CARD]"),
    (grouped(VISA, " "), "[CARD]"),
    (grouped(MASTERCARD, "-"), "[CARD]"),
    (f"{AMEX[:4]} {AMEX[4:10]} {AMEX[10:]}", "[CARD]"),
    (DISCOVER, "[CARD]"),
    (VISA_13, "[CARD]"),
    (VISA_19, "[CARD]"),
    (f"card: {grouped(VISA, ' ')} exp 12/27", "card: [CARD] exp 12/27"),
    (f"{grouped(VISA, ' ')} 12/27", "[CARD] 12/27"),
]

IPS = [
    ("192.168.0.1", "[IP]"),
    ("version 1.2.3.4", "version [IP]"),  # documented: a four-part version of octets is an IP
    ("from 10.0.0.255:8080.", "from [IP]:8080."),
    ("8.8.8.8, 1.1.1.1", "[IP], [IP]"),
    ("2001:db8::1", "[IP]"),
    ("2001:0db8:85a3:0000:0000:8a2e:0370:7334", "[IP]"),
    ("http://[2001:db8::1]:8080/", "http://[[IP]]:8080/"),
    ("::ffff:192.0.2.1", "[IP]"),
    ("64:ff9b:0:0:0:0:192.0.2.33", "[IP]"),
    ("fe80::1ff:fe23:4567:890a is up", "[IP] is up"),
]

SECRETS = [
    ("sk-abcdefghijklmnopqrstuvwx12", "[SECRET]"),
    ("sk-proj-AbCdEf0123456789xyzXYZ_abc", "[SECRET]"),
    ("key sk-ant-api03-AbCdEf0123456789xyz-XYZ", "key [SECRET]"),
    ("sk_live_4eC39HqLyjWDarjtT1zdp7dc", "[SECRET]"),
    ("rk_live_51HqLyjWDarjtT1zdp7dc", "[SECRET]"),
    ("pk_live_51HqLyjWDarjtT1zdp7dc", "[SECRET]"),
    ("AKIAIOSFODNN7EXAMPLE", "[SECRET]"),
    ("ASIAY34FZKBOKMUTVV7A", "[SECRET]"),
    ("ghp_0123456789abcdefghijABCDEFGHIJ012345", "[SECRET]"),
    ("gho_16C7e42F292c6912E7710c838347Ae178B4a", "[SECRET]"),
    ("github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz", "[SECRET]"),
    ("xoxb-123456789012-abcdefABCDEF", "[SECRET]"),
    ("AIzaSyA-1234567890abcdefghijklmnopqrstu", "[SECRET]"),
    (
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "[SECRET]",
    ),
    ("Authorization: Bearer abc123.def456-ghi", "Authorization: Bearer [SECRET]"),
    ("api_key=abc123", "api_key=[SECRET]"),
    ('password: "hunter2"', 'password: "[SECRET]"'),
    ("secret='s3cr3t value'", "secret='[SECRET]'"),
    ('{"token": "xyz", "user": "ann"}', '{"token": "[SECRET]", "user": "ann"}'),
    ("https://x.io/cb?token=abc.def&page=2", "https://x.io/cb?token=[SECRET]&page=2"),
    ("DB_PASSWORD = p4ssw0rd # prod", "DB_PASSWORD = [SECRET] # prod"),
    ("OPENAI_API_KEY=sk-abcdefghijklmnopqrstu1", "OPENAI_API_KEY=[SECRET]"),
    ("x-api-key: 0f1e2d3c", "x-api-key: [SECRET]"),
    ("PASSWD=swordfish", "PASSWD=[SECRET]"),
    ("Server=db;Uid=ann;Pwd=abc;", "Server=db;Uid=ann;Pwd=[SECRET];"),
]

POSITIVES = [
    *(("email", t, e) for t, e in EMAILS),
    *(("phone", t, e) for t, e in PHONES),
    *(("card", t, e) for t, e in CARDS),
    *(("ip", t, e) for t, e in IPS),
    *(("secret", t, e) for t, e in SECRETS),
]


@pytest.mark.parametrize(("kind", "text", "expected"), POSITIVES, ids=[p[1] for p in POSITIVES])
def test_each_kind_is_replaced_and_counted(kind, text, expected):
    out, counts = REDACTOR.redact(text)
    assert out == expected
    assert counts == {kind: expected.count(REPLACEMENTS[kind])}


# --- negatives: what must come back exactly as given ----------------------------------------

ORDINARY_NUMBERS = [
    "in 2023 we grew",
    "it costs $1,299.00 a year",
    "order AB-2023-5551234 shipped",
    "order ORD-415-555-0199-X",
    "Python 3.11.7 is out",
    "due 2024-05-01 at 12:30",
    "12:30:45 and 10:45",
    "42 apples, 7 pears",
    "up 45% (12.5% last year)",
    "+5% vs +12%",
    "+1 500 000 users",
    "ISBN 978-3-16-148410-0",
    "unformatted 4155550199 or local 555-0199",  # precision over recall: see module docstring
    "epoch 1714560000",
    "ref 0123 4567",
    "part 415-555-0199-22",  # a longer number; the phone rule never takes part of one
]

NOT_PII = [
    *ORDINARY_NUMBERS,
    # cards: Luhn failures and non-issuer prefixes are not cards, and not phones either
    luhn_break(VISA),
    grouped(luhn_break(VISA), " "),
    grouped(luhn_break(MASTERCARD), "-"),
    luhn_break(AMEX),
    luhn_complete("900000000000000"),  # passes Luhn, but no card starts with 9
    grouped(VISA, " ") + " 1111",  # 20 digits: never part of a longer number
    "1234 " + grouped(VISA, " "),
    f"{VISA}-02",
    # addresses
    "version 1.2.3",
    "256.1.1.1",
    "1.2.3.4.5",
    "01.02.03.04",
    "build 10.0.19041.1",
    "x[1::2] and y[::-1]",
    "std::vector<int>",
    "mac 00:1a:2b:3c:4d:5e",
    "loopback ::1 and fe80::1",
    "dead:beef:cafe:: has no digit; 42 does",
    # emails
    "@handle and @app.get('/')",
    "user@localhost",
    "a@b.com.c@d.com",
    "jane at example dot com",
    # secrets
    "Bearer authentication is common",
    "Authorization: Bearer YOUR_TOKEN",
    "max_tokens=256, tokenizer: bpe",
    "the password is long",
    "sk-learn and task-based risk-free desk-top",
    "sk-learn-compatible-estimators",  # long enough for a key, but keys carry digits
    "AKIA is not enough",
    "password:\nnext line",
    'secret="[SECRET]"',
]


@pytest.mark.parametrize("text", NOT_PII)
def test_text_without_pii_is_unchanged(text):
    assert REDACTOR.redact(text) == (text, {})


def test_luhn_invalid_number_stays_while_the_phone_beside_it_goes():
    text = f"Order {luhn_break(VISA)} for +1-202-555-0143"
    redacts_to(text, f"Order {luhn_break(VISA)} for [PHONE]", {"phone": 1})


# --- options and counting -------------------------------------------------------------------

MIXED = (
    f"Reach jane@example.com or bob@example.org, +1-202-555-0143. Card {grouped(VISA, ' ')}, "
    "host 192.168.0.1, token=abc123 and key AKIAIOSFODNN7EXAMPLE."
)


def test_counts_every_kind_that_occurs():
    out, counts = REDACTOR.redact(MIXED)
    assert counts == {"email": 2, "phone": 1, "card": 1, "ip": 1, "secret": 2}
    assert out == (
        "Reach [EMAIL] or [EMAIL], [PHONE]. Card [CARD], host [IP], "
        "token=[SECRET] and key [SECRET]."
    )


def test_counts_only_kinds_that_fired():
    assert REDACTOR.redact("Write to a@b.io") == ("Write to [EMAIL]", {"email": 1})


@pytest.mark.parametrize("off", PII_KINDS)
def test_a_disabled_kind_is_left_alone(off):
    redactor = Redactor([k for k in PII_KINDS if k != off])
    out, counts = redactor.redact(MIXED)
    assert off not in counts
    assert REPLACEMENTS[off] not in out
    assert set(counts) == set(PII_KINDS) - {off}


def test_disabling_card_does_not_hand_the_digits_to_phone():
    text = f"card {grouped(VISA, ' ')}"
    assert Redactor(["phone", "ip"]).redact(text) == (text, {})


def test_a_single_kind_may_be_given_as_a_string():
    assert Redactor("email").redact("a@b.io 192.168.0.1") == ("[EMAIL] 192.168.0.1", {"email": 1})


def test_unknown_kind_is_refused_with_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown PII kind\(s\) ssn; known: email, phone"):
        Redactor(["email", "ssn"])


def test_no_kinds_redacts_nothing():
    assert Redactor([]).redact(MIXED) == (MIXED, {})


# --- order and neighbours -------------------------------------------------------------------


def test_secret_digits_are_not_taken_by_other_kinds():
    # The key holds a card-like, phone-like and address-like run; it must go as one secret.
    text = f"api_key={VISA}-415-555-0199-10.0.0.1"
    redacts_to(text, "api_key=[SECRET]", {"secret": 1})


def test_email_digits_are_not_taken_by_phone():
    redacts_to("mail 415-555-0199@example.com", "mail [EMAIL]", {"email": 1})


def test_item_freed_by_its_replaced_neighbour_is_redacted_too():
    # "1 4111..." reads as a longer number until the address is replaced.
    redacts_to(f"10.0.0.1 {VISA}", "[IP] [CARD]", {"ip": 1, "card": 1})


# --- properties -----------------------------------------------------------------------------

SECRET_MARKERS = (
    *("sk-", "sk_", "rk_", "pk_", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    *("github_pat_", "xox", "aiza", "eyj", "bearer", "key", "secret", "passw", "pwd", "token"),
)

no_digit_text = st.text(
    alphabet=st.characters(categories=("L", "P", "Zs", "S"), exclude_characters="@")
    | st.sampled_from(string.ascii_letters + string.punctuation.replace("@", "") + " \n\t"),
    max_size=300,
)


@given(no_digit_text)
@example("dead:beef:cafe::")  # a valid IPv6 address, but no digit
@example("Secret Santa: bring a gift")
def test_text_without_digits_at_or_secret_markers_comes_back_unchanged(text):
    assume(not any(marker in text.lower() for marker in SECRET_MARKERS))
    assert REDACTOR.redact(text) == (text, {})


# Fragments that are PII, nearly PII, or glue, so that random joins put items next to each
# other in every way: the cases where one rule's match changes another's context.
FRAGMENTS = [
    *(text for _, text, _ in POSITIVES),
    *NOT_PII,
    *"0123456789 .,:;-+()[]@/=_'\"\n",
    "1",
    "12",
    "415",
    "0199",
    "a",
    "token=",
    "Bearer ",
    "[EMAIL]",
    "[PHONE]",
    "[CARD]",
    "[IP]",
    "[SECRET]",
]


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join) | st.text(max_size=200))
@example(f"10.0.0.1 {VISA}")
@example(f"{VISA} 10.0.0.1 {VISA}")
def test_redaction_is_idempotent(text):
    once, _ = REDACTOR.redact(text)
    assert REDACTOR.redact(once) == (once, {})


@given(st.lists(st.sampled_from(ORDINARY_NUMBERS), min_size=1, max_size=6).map(" and ".join))
def test_joined_ordinary_numbers_stay_ordinary(text):
    assert REDACTOR.redact(text) == (text, {})


card_numbers = st.builds(
    lambda prefix, rest, length: luhn_complete((prefix + rest)[: length - 1]),
    st.sampled_from(["4", "51", "55", "2221", "2720", "34", "37", "6011", "65", "3528"]),
    st.text(alphabet="0123456789", min_size=18, max_size=18),
    st.integers(min_value=13, max_value=19),
)


@given(card_numbers, st.sampled_from(["", " ", "-"]))
def test_every_luhn_valid_card_is_redacted(number, sep):
    text = f"paid with {grouped(number, sep) if sep else number} today"
    assert REDACTOR.redact(text) == ("paid with [CARD] today", {"card": 1})


@given(card_numbers, st.integers(min_value=1, max_value=9), st.sampled_from(["", " ", "-"]))
def test_no_luhn_invalid_card_is_redacted(number, shift, sep):
    broken = number[:-1] + str((int(number[-1]) + shift) % 10)
    text = f"paid with {grouped(broken, sep) if sep else broken} today"
    assert REDACTOR.redact(text) == (text, {})


# --- cost -----------------------------------------------------------------------------------

HOSTILE = [
    "a:" * 50_000,
    "1::" * 30_000,
    "1 " * 50_000,
    "1." * 50_000,
    "a" * 100_000 + "@",
    "a@" + "b." * 50_000,
    "+1 " * 30_000,
    'password="' * 10_000,
    "Bearer " * 15_000,
    "eyJa.eyJ" * 10_000,
    "4111 " * 20_000,
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:8]))
def test_time_grows_linearly_on_hostile_input(text):
    # A backtracking regex turns these 100 kB inputs into minutes; linear scans take ms.
    start = time.perf_counter()
    REDACTOR.redact(text)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Resetting your password: open Settings > Security", None),
        ("Your token: expired, please log in again", None),
        ("password: hunter2", "password: [SECRET]"),
        ("password: correcthorsebatterystaple", "password: [SECRET]"),
        ("set PASSWORD=correcthorse", "set PASSWORD=[SECRET]"),
    ],
)
def test_key_colon_prose_is_not_a_secret(text, expected):
    assert Redactor(["secret"]).redact(text)[0] == (expected or text)
