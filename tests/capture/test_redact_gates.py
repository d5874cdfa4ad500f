"""The cheap tests that let redaction skip text: never skip text that holds something to redact.

``Redactor.may_contain`` answers "could ``redact`` change this?" without running the rules, and
ingest trusts a False: the text is stored as it is. Two properties make that safe:

- False only when ``redact`` would return the text unchanged with no counts;
- substring-monotone: True for ``s`` means True for any ``a + s + b``. ``redact_record`` relies
  on it to test a whole record (texts and metadata serialised as JSON) in one call.

``redact_record`` must then give exactly what redacting every field would give without the
gate: the same record (``is`` the input when nothing changed) and the same counts, whether it
serialises the metadata itself or is handed the JSON ingest made for the storage row. The walk
it is compared with is written here, independently of ``redact_nested``.

Texts are prose words glued to PII and near-PII fragments in every order, so items sit next to
each other, to separators and to the key words the gates look for; every non-empty subset of the
PII kinds is tried, since each subset has its own gates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from hypothesis import HealthCheck, event, example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from evalkit.capture.redact import Redactor
from evalkit.capture.redact.record import may_contain_pii, redact_record
from evalkit.capture.validate import Limits, parse_response
from evalkit.records import PII_KINDS, ResponseRecord
from evalkit.store.rows import json_text

PROPERTY = hsettings(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def luhn_complete(body: str) -> str:
    """``body`` followed by the check digit that makes the whole number pass Luhn."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:  # doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return body + str(-total % 10)


# -- strategies -----------------------------------------------------------------------------------

DIGITS = "0123456789"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
HEX = "0123456789abcdefABCDEF"


def chars(alphabet: str, n: int, m: int | None = None) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=n, max_size=n if m is None else m)


EMAILS = st.builds(
    "{}@{}.{}".format,
    chars("abcxyz._+-0129", 1, 8),
    chars("abcdexyz-09", 1, 8),
    st.sampled_from(["com", "io", "co.uk", "example", "x"]),
)


def grouped(number: str, sep: str) -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


CARDS = st.builds(
    lambda first, body, n, sep: grouped(luhn_complete((first + body)[: n - 1]), sep),
    st.sampled_from(["4", "51", "55", "2221", "34", "37", "6011", "65", "3528"]),
    chars(DIGITS, 18),
    st.integers(13, 19),
    st.sampled_from(["", " ", "-"]),
)
PHONES = st.one_of(
    st.sampled_from(["(415) 555-0199", "+44 20 7946 0958", "415.555.0199", "020 7946 0958"]),
    st.builds("({}) {}-{}".format, chars("23456789", 3), chars("23456789", 3), chars(DIGITS, 4)),
    st.builds("+{} {} {}".format, chars("123456789", 1, 2), chars(DIGITS, 2, 4), chars(DIGITS, 4)),
)
IPS = st.one_of(
    st.builds("{}.{}.{}.{}".format, *[st.integers(0, 255)] * 4),
    st.lists(chars(HEX, 1, 4), min_size=3, max_size=8).map(":".join),
    st.builds("{}::{}".format, chars(HEX, 1, 4), chars(HEX, 1, 4)),
    st.sampled_from(["2001:db8::1", "::ffff:192.0.2.1", "fe80::1", "x[1::2]"]),
)
SECRETS = st.one_of(
    st.builds("sk-{}1{}".format, chars(ALNUM, 10), chars(ALNUM, 10)),
    st.builds("AKIA{}".format, chars("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 16)),
    st.builds("ghp_{}".format, chars(ALNUM, 20, 24)),
    st.builds("Bearer {}".format, chars(ALNUM, 8, 26)),
    st.builds("eyJ{}.eyJ{}.{}".format, chars(ALNUM, 4, 8), chars(ALNUM, 4, 8), chars(ALNUM, 1, 6)),
    st.builds(
        "{}{}{}".format,
        st.sampled_from(["password", "api_key", "token", "secret", "pwd", "Passwd", "ACCESS-KEY"]),
        st.sampled_from([": ", "=", '": "', "='", ":\t"]),
        st.sampled_from(["hunter2", "xyz123", "open Settings", "[SECRET]", "a", "x" * 17]),
    ),
    st.sampled_from(["sk_live_abcdefghij12", "xoxb-1234567890", "github_pat_" + "a" * 22]),
)
#: Near misses: key words, markers and digits that wake a gate without being an item, and case
#: or look-alike spellings the rules' regexes may read differently from the gates.
NEAR = st.sampled_from(
    [
        *("key", "token", "password:", "passwd =", "Token", "KEY=", "bearer", "BEARER", "BeArEr"),
        *("J", "A", "-", "_", "sk-", "AKIA", "AIza", "eyJ", "ghp_", "xox", "k_live_", "@"),
        *("2024", "3", "1.2.3", "1.2.3.4", "200 300 4000", "555-0199", "4155550199"),
        *("paſſword: hunter2", "toKen=abc1", "[EMAIL]", "[CARD]", "v1.2.3", "a::b", ":::"),
        *("a@b.io", "1.2.3.4", "::1:2"),  # the shortest items
    ]
)
#: Credentials whose JSON form differs: a quote or tab between the key word and the ":" is
#: written ``\"`` or ``\t`` once serialised, so the key word no longer sits before the ":".
ESCAPED_SECRETS = st.sampled_from(
    ['password"\t: hunter2', 'token": "abc123"', "api_key\t= xyz123", "pwd\"='s3cr3t'"]
)
DIGIT_RUNS = st.lists(st.sampled_from([*DIGITS, " ", ".", "-", "(", ")", "/"]), max_size=14).map(
    "".join
)
WORDS = st.sampled_from(
    [
        *("the", "refund", "takes", "thirty", "days", "Reach", "me", "at", "or", "call"),
        *("é", "naïve", "日本", "\U0001f600", "\u2028", "\t", "\n", '"', "'", "\\", ":", "="),
    ]
)
ITEMS = st.one_of(EMAILS, CARDS, PHONES, IPS, SECRETS, ESCAPED_SECRETS, NEAR)
FRAGMENTS = st.one_of(ITEMS, DIGIT_RUNS, WORDS, WORDS)
GLUE = st.sampled_from(["", " ", " ", ", ", "\n", ":", "=", "-", ".", "/", "(", '"'])


@st.composite
def texts(draw: Any, max_pieces: int = 8) -> str:
    pieces = draw(st.lists(st.tuples(GLUE, FRAGMENTS), max_size=max_pieces))
    return "".join(glue + piece for glue, piece in pieces)


TEXTS = texts() | st.text(max_size=40)
#: What surrounds a text in a longer one: above all the characters the gates look next to.
CONTEXT = st.text(st.sampled_from("09az:= \t\"'@-_.JAk/("), max_size=3) | texts(max_pieces=2)
KIND_SETS = st.sets(st.sampled_from(PII_KINDS), min_size=1).map(lambda s: tuple(sorted(s)))
_REDACTORS: dict[tuple[str, ...], Redactor] = {}


def redactor(kinds: tuple[str, ...]) -> Redactor:
    if kinds not in _REDACTORS:
        _REDACTORS[kinds] = Redactor(kinds)
    return _REDACTORS[kinds]


# -- Redactor.may_contain -------------------------------------------------------------------------


@hsettings(PROPERTY, max_examples=500)
@given(KIND_SETS, TEXTS)
@example(PII_KINDS, "a@b.io")
@example(PII_KINDS, "paſſword: hunter2")
@example(PII_KINDS, "BeArEr abcdef123456")
@example(("secret",), "x token: abc1 paſſword: hunter2")
@example(("ip",), "fe80::1:2:3")
def test_may_contain_false_means_redact_changes_nothing(kinds, text):
    """A closed gate is a promise: the text comes back as it was, nothing counted.

    The examples are the shortest item, and spellings that the rules' case-insensitive regexes
    match but the gates' plain substring tests may not ("ſ" matches "s" under IGNORECASE).
    """
    r = redactor(kinds)
    if r.may_contain(text):
        event("gate open")
        return
    event("gate closed")
    assert r.redact(text) == (text, {})


@hsettings(PROPERTY, max_examples=500)
@given(KIND_SETS, TEXTS, CONTEXT, CONTEXT)
@example(PII_KINDS, "token:", "a", "b")
@example(("secret",), "ken: x", "to", "")
@example(("ip",), ":1:abc", "9", "")
@example(("ip",), "abc:1:", "", "9")
def test_may_contain_is_substring_monotone(kinds, inner, before, after):
    """A text that may contain PII still may once embedded in any other text."""
    r = redactor(kinds)
    if not r.may_contain(inner):
        event("inner gate closed")
        return
    assert r.may_contain(before + inner + after)


# -- redact_record ---------------------------------------------------------------------------------

#: Prose that opens no gate: records whose only item is the one placed in them.
PROSE = st.lists(
    st.sampled_from(
        ["the", "refund", "takes", "thirty", "days", "naïve", "日本", "\U0001f600", "3"]
    ),
    max_size=5,
).map(" ".join)
#: Keys with key words: cut out of the serialised metadata before the test, never redacted.
KEYS = st.sampled_from(
    ["token", "password", "api_key", "session_id", "user:email", "sk-id", "AKIA", "k", "", "z"]
)
ODD_KEYS = st.sampled_from(["a\\b", 'say "hi"', "tab\there"]) | st.text(max_size=6)
#: Numbers short enough not to look like a digit run (seven digits and separators would).
SCALARS = st.one_of(
    PROSE,
    st.integers(-999, 999),
    st.sampled_from([0.5, -2.25, 1e-3]),
    st.booleans(),
    st.none(),
)
ODD_SCALARS = st.one_of(
    TEXTS,
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(['quote " inside', "back\\slash 10.0.0.1", "tab\there", "token"]),
    st.integers(2**64, 2**70),  # beyond what orjson writes: the gate must walk
)


def json_values(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str]) -> Any:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
        max_leaves=6,
    )


PLAIN_METADATA = st.dictionaries(KEYS, json_values(SCALARS, KEYS), max_size=4)
ANY_METADATA = st.dictionaries(
    KEYS | ODD_KEYS, json_values(SCALARS | ODD_SCALARS, KEYS | ODD_KEYS), max_size=4
)


def storable(value: Any) -> Any:
    """``value`` as validation lets it through: no NUL, no lone surrogates, in text or keys."""
    if isinstance(value, str):
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable(v) for v in value]
    return value


def validated(raw: dict[str, Any]) -> ResponseRecord:
    return parse_response(storable(raw), received_at=NOW, limits=Limits(max_field_chars=10_000))


@st.composite
def one_item_records(draw: Any) -> ResponseRecord:
    """Prose everywhere and one item (or near miss) in one place: a text field, or a metadata
    value among other keys, at the top or nested. The gate must find it there."""
    raw: dict[str, Any] = {"response": draw(PROSE)}
    for name in ("prompt", "context"):
        if draw(st.booleans()):
            raw[name] = draw(PROSE)
    metadata = draw(PLAIN_METADATA)
    # Escapes are where the JSON of the metadata differs from its strings: weigh them up.
    item = draw(ESCAPED_SECRETS if draw(st.booleans()) else ITEMS)
    where = draw(st.sampled_from(["response", "prompt", "context", "value", "list", "object"]))
    if where in ("response", "prompt", "context"):
        text = raw.get(where, "")
        at = draw(st.integers(0, len(text)))
        raw[where] = text[:at] + draw(GLUE) + item + draw(GLUE) + text[at:]
    else:
        value: Any = {
            "value": item,
            "list": [draw(PROSE), item, draw(SCALARS)],
            "object": {"token": draw(PROSE), "v": item, "z": 1},
        }[where]
        pairs = list(metadata.items())  # among other keys, before and after it
        pairs.insert(draw(st.integers(0, len(pairs))), (draw(KEYS) + "#", value))
        metadata = dict(pairs)
    if metadata:
        raw["metadata"] = metadata
    return validated(raw)


@st.composite
def any_records(draw: Any) -> ResponseRecord:
    """Text and metadata of every kind, PII anywhere or nowhere."""
    raw: dict[str, Any] = {"response": draw(TEXTS)}
    for name in ("prompt", "context"):
        if draw(st.booleans()):
            raw[name] = draw(TEXTS)
    if draw(st.booleans()):
        raw["metadata"] = draw(ANY_METADATA)
    return validated(raw)


def walk(value: Any, r: Redactor, counts: dict[str, int]) -> Any:
    """Every string inside a JSON value redacted (keys are not), without any gate."""
    if isinstance(value, str):
        text, found = r.redact(value)
        for kind, n in found.items():
            counts[kind] = counts.get(kind, 0) + n
        return text
    if isinstance(value, dict):
        return {k: walk(v, r, counts) for k, v in value.items()}
    if isinstance(value, list):
        return [walk(v, r, counts) for v in value]
    return value


def redact_every_field(record: ResponseRecord, r: Redactor) -> tuple[ResponseRecord, dict]:
    counts: dict[str, int] = {}
    update = {
        name: walk(getattr(record, name), r, counts)
        for name in ("prompt", "context", "response", "metadata")
    }
    return msgspec.structs.replace(record, **update), counts


@hsettings(PROPERTY, max_examples=300)
@given(
    KIND_SETS,
    st.one_of(one_item_records(), one_item_records(), any_records()),
    st.dictionaries(st.sampled_from(PII_KINDS), st.integers(1, 3)),
)
def test_redact_record_equals_redacting_every_field(kinds, record, earlier):
    """The whole-record gate changes nothing but speed: same record, same counts added.

    Also with the metadata JSON handed in as ingest does (``json_text``, which falls back to
    ``json.dumps`` and its other separators and escapes where orjson refuses the metadata).
    """
    r = redactor(kinds)
    want, want_counts = redact_every_field(record, r)
    expected = dict(earlier)  # counts from earlier records are added to, never reset
    for kind, n in want_counts.items():
        expected[kind] = expected.get(kind, 0) + n
    for metadata_json in (None, json_text(record.metadata)):
        counts = dict(earlier)
        got = redact_record(record, r, counts, metadata_json)
        assert got == want
        assert counts == expected
        if want == record:
            assert got is record  # nothing redacted: no copy
        gate = may_contain_pii(record, r, metadata_json)
        if not gate:
            assert want == record and not want_counts
    event(f"gate {'open' if gate else 'closed'}, {'changed' if want != record else 'unchanged'}")


def test_gate_is_closed_for_plain_metadata_keys_with_key_words():
    """Keys are cut out before the test: "session_id"/"token" keys alone do not open it."""
    record = parse_response(
        {
            "response": "The refund takes thirty days.",
            "metadata": {"session_id": "abc", "token": 3},
        },
        received_at=NOW,
        limits=Limits(max_field_chars=1000),
    )
    assert not may_contain_pii(record, Redactor())
    assert redact_record(record, Redactor(), {}) is record


def test_secret_in_metadata_is_found_behind_a_key_word_key():
    record = parse_response(
        {"response": "ok", "metadata": {"auth": {"header": "Bearer abcdef123456"}, "n": 2**70}},
        received_at=NOW,
        limits=Limits(max_field_chars=1000),
    )
    counts: dict[str, int] = {}
    got = redact_record(record, Redactor(), counts)
    assert got.metadata == {"auth": {"header": "Bearer [SECRET]"}, "n": 2**70}
    assert counts == {"secret": 1}
