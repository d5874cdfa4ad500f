"""JSONL lines for the fast-decoder tests, written as text so they can hold what real logs hold.

``render`` writes JSON itself (not through one encoder): raw number literals (``1e400``, ``5.0``
for a count, ``-0``), repeated keys, lone surrogates as escapes or as raw (invalid) UTF-8,
nesting deeper than ``orjson`` goes, integers beyond 64 bits. ``lines`` mixes valid records with
one or a few odd values; ``plain_lines`` are lines the fast path must take. Used by
``test_fast_decode``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from evalkit.capture.validate import Limits

NOW = datetime(2026, 11, 2, 12, 30, tzinfo=UTC)
CAP = 12  # max_field_chars: small, so over-long text is cheap to generate
LIMITS = Limits(max_field_chars=CAP)
SHORT = ("tenant", "model_version", "prompt_version", "intent", "user_segment")
PROPERTY = hsettings(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])


class Raw(str):
    """JSON text written into the line as is (number literals, deep nesting)."""


# -- rendering ------------------------------------------------------------------------------------


class Obj:
    """A JSON object as written, repeated keys included."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        self.pairs = pairs


def render(value: Any, ascii_only: bool) -> str:
    """JSON text of ``value``, where an ``Obj`` may repeat keys and a ``Raw`` is written as is."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, Obj):
        body = ",".join(f"{render(k, ascii_only)}:{render(v, ascii_only)}" for k, v in value.pairs)
        return "{" + body + "}"
    if isinstance(value, dict):
        return render(Obj(list(value.items())), ascii_only)
    if isinstance(value, list):
        return "[" + ",".join(render(v, ascii_only) for v in value) + "]"
    return json.dumps(value, ensure_ascii=ascii_only)


def encode(text: str) -> bytes:
    # A lone surrogate written unescaped becomes bytes that are not UTF-8, as in a broken log.
    return text.encode("utf-8", "surrogatepass")


# -- strategies -----------------------------------------------------------------------------------

# Text a validated record may hold (no NUL, no surrogates) ...
PLAIN_CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
PLAIN_TEXT = st.text(PLAIN_CHARS, max_size=CAP) | st.text(PLAIN_CHARS, min_size=CAP, max_size=CAP)
# ... and text it may not hold: over the limit, or with NUL, lone surrogates, or characters
# JSON must escape (built from pieces: ``st.text`` would make the rare ones rarer still).
SPECIALS = [
    "\x00",
    "\ud800",
    "\udbff",
    "\udc00",
    "\x01",
    "\x1f",
    '"',
    "\\",
    "\n",
    "\u2028",
    "\U0001f600",
]
ODD_TEXT = st.text(PLAIN_CHARS, min_size=CAP + 1, max_size=CAP + 3) | st.lists(
    PLAIN_CHARS | st.sampled_from(SPECIALS), min_size=1, max_size=CAP
).map("".join)
SOME_TEXT = st.text(PLAIN_CHARS, min_size=1, max_size=8)
WRONG_TYPES = (
    st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.lists(st.integers(0, 3), max_size=2)
    | st.just(Obj([]))
)
NOT_GIVEN = st.sampled_from([None, ""])

OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
SAFE_ISO = st.builds(
    lambda dt: dt.isoformat(),
    st.datetimes(datetime(1970, 1, 2), datetime(2100, 1, 1), timezones=st.none() | OFFSETS),
)
ANY_ISO = st.builds(  # any year (some overflow once in UTC), other separators, "Z"
    lambda dt, sep, zulu: dt.isoformat(sep=sep).replace("+00:00", "Z" if zulu else "+00:00"),
    st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59), timezones=st.none() | OFFSETS),
    st.sampled_from(["T", " ", "t"]),
    st.booleans(),
)
NUMBER_LITERALS = st.sampled_from(
    [Raw(x) for x in ("1e400", "-1e400", "1E2", "-0", "5.0", "1e-400", "0.1e1", "-0.0")]
    + [Raw("9" * 40), Raw("12345678901234567890123")]
)
GOOD_AMOUNTS = st.floats(0, 1e12) | st.integers(0, 10**9)
ODD_AMOUNTS = st.one_of(
    st.integers(2**53, 2**70),  # beyond exact doubles, beyond 64 bits
    st.floats(max_value=-1e-300) | st.integers(max_value=-1),
    st.floats(0, 1e6).map(repr),  # "12.5": a number as text
    NUMBER_LITERALS,
    NOT_GIVEN | st.booleans() | st.just("fast"),
)
GOOD_COUNTS = st.integers(0, 2**31 - 1)
ODD_COUNTS = st.one_of(
    st.integers(2**31, 2**65) | st.integers(max_value=-1),
    st.integers(0, 10**6).map(str),
    NUMBER_LITERALS,
    st.floats(0, 100),
    NOT_GIVEN | st.booleans(),
)


def name_field(max_chars: int) -> tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]:
    """A bounded text field (tenant: 128, model_id: 256, outcome: 64): good and odd values."""
    at_limit = st.integers(max_chars - 1, max_chars + 2).map(lambda n: "n" * n)
    return SOME_TEXT, st.one_of(NOT_GIVEN, at_limit, ODD_TEXT, WRONG_TYPES)


KEYS = st.text(PLAIN_CHARS, min_size=1, max_size=6)
ODD_KEYS = ODD_TEXT | st.just("")
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | PLAIN_TEXT
)
ODD_SCALARS = st.one_of(
    st.integers(2**64, 2**80) | st.integers(-(2**80), -(2**63) - 1),
    st.integers(250, 300).map(lambda d: Raw("[" * d + "]" * d)),  # orjson stops at 255
    NUMBER_LITERALS,
    ODD_TEXT,
)


def json_values(scalars: st.SearchStrategy[Any], keys: st.SearchStrategy[str]) -> Any:
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.lists(st.tuples(keys, inner), max_size=3).map(Obj)  # keys may repeat
        ),
        max_leaves=5,
    )


GOOD_JSON = json_values(SCALARS, KEYS)
# Nested JSON with at least a chance of one odd scalar or key somewhere.
ODD_JSON = json_values(SCALARS | ODD_SCALARS, KEYS | ODD_KEYS)

#: Per field: (good values, odd values). Odd is not always invalid: "12.5" for a cost, an
#: epoch for created_at, a list for context are fine for the careful path only.
FIELDS: dict[str, tuple[st.SearchStrategy[Any], st.SearchStrategy[Any]]] = {
    "id": (
        st.text(PLAIN_CHARS, min_size=1, max_size=10),
        st.one_of(NOT_GIVEN, st.integers(127, 130).map(lambda n: "i" * n), ODD_TEXT, WRONG_TYPES),
    ),
    "created_at": (
        SAFE_ISO,
        st.one_of(
            ANY_ISO,
            st.integers(0, 4 * 10**12),  # epoch seconds and milliseconds
            st.integers(10**11 - 3, 10**11 + 3),  # where the careful path switches to ms
            st.integers(0, 4 * 10**12).map(str),  # the same, quoted
            st.floats(0, 4e9) | st.floats(1e11 - 1, 1e11 + 1),
            st.sampled_from(["yesterday", "2026-13-01", "2026-01-01", "2026-01-01T00:00:60Z"]),
            st.dates().map(date.isoformat),  # a date alone: midnight UTC, careful path only
            st.sampled_from([Raw("1e400"), Raw("-1"), Raw("1E9"), True]),
            NOT_GIVEN,
        ),
    ),
    "response": (PLAIN_TEXT, st.one_of(ODD_TEXT, NOT_GIVEN, WRONG_TYPES)),
    "prompt": (PLAIN_TEXT, st.one_of(ODD_TEXT, NOT_GIVEN, WRONG_TYPES)),
    "context": (
        SOME_TEXT,
        st.one_of(
            st.lists(PLAIN_TEXT, max_size=3),  # RAG passages, joined by the careful path
            st.lists(PLAIN_TEXT | st.integers(), min_size=1, max_size=2),
            ODD_TEXT,
            NOT_GIVEN | WRONG_TYPES,
        ),
    ),
    **{name: name_field(128) for name in SHORT},
    "model_id": name_field(256),
    "outcome": name_field(64),
    "latency_ms": (GOOD_AMOUNTS, ODD_AMOUNTS),
    "cost": (GOOD_AMOUNTS, ODD_AMOUNTS),
    "input_tokens": (GOOD_COUNTS, ODD_COUNTS),
    "output_tokens": (GOOD_COUNTS, ODD_COUNTS),
    "confidence": (
        st.floats(0, 1) | st.sampled_from([0, 1]),
        st.one_of(
            st.floats(1, 10, exclude_min=True) | st.floats(max_value=-1e-9),
            st.floats(0, 1).map(repr),
            NUMBER_LITERALS,
            NOT_GIVEN | st.booleans(),
        ),
    ),
    "metadata": (
        st.lists(st.tuples(KEYS, GOOD_JSON), max_size=3).map(Obj),
        st.one_of(
            st.lists(st.tuples(KEYS | ODD_KEYS, ODD_JSON), min_size=1, max_size=3).map(Obj),
            NOT_GIVEN | st.just(Obj([])),
            st.lists(st.integers(), max_size=2) | st.integers() | ODD_TEXT,
            # JSON text, an object or not: the careful path reads it, the fast one steps aside
            st.lists(st.tuples(KEYS, GOOD_JSON), max_size=3).map(
                lambda pairs: render(Obj(pairs), False)
            )
            | GOOD_JSON.map(lambda value: render(value, False)),
        ),
    ),
}
OPTIONAL = [name for name in FIELDS if name != "response"]
UNKNOWN_KEYS = st.sampled_from(["region", "Response", "ID", "meta", "latency", "labels"]) | KEYS


@st.composite
def lines(draw: Any) -> bytes:
    """A JSONL line: a record of evalkit's fields, none, one or two of them odd."""
    present = draw(st.lists(st.sampled_from(OPTIONAL), unique=True, max_size=len(OPTIONAL)))
    if draw(st.integers(0, 19)):
        present.append("response")
    odd = draw(st.sampled_from([0, 0, 1, 1, 1, 2]))
    odd_names = set(draw(st.permutations(present))[:odd])
    pairs = [(name, draw(FIELDS[name][name in odd_names])) for name in present]
    if draw(st.integers(0, 5)) == 0:  # a field evalkit does not know
        pairs.append((draw(UNKNOWN_KEYS), draw(GOOD_JSON)))
    pairs = draw(st.permutations(pairs))
    if pairs and draw(st.integers(0, 9)) == 0:  # a key given twice: the last one counts
        name = draw(st.sampled_from([k for k, _ in pairs]))
        good, bad = FIELDS.get(name, (PLAIN_TEXT, ODD_TEXT))
        pairs.append((name, draw(good | bad)))
    # Written as ASCII, any character beyond U+FFFF becomes a surrogate pair: fast gives up.
    text = render(Obj(pairs), ascii_only=draw(st.integers(0, 3)) == 0)
    shape = draw(st.integers(0, 39))
    if shape == 0:  # not an object at all
        text = render(draw(GOOD_JSON), ascii_only=True)
    elif shape == 1 and len(text) > 1:  # cut short
        text = text[: draw(st.integers(1, len(text) - 1))]
    return encode(draw(st.sampled_from(["", " "])) + text + draw(st.sampled_from(["", "\r", " "])))


@st.composite
def plain_lines(draw: Any) -> bytes:
    """A line the fast path is for: known fields, valid values, no reason to give up."""
    plain_json = st.recursive(
        SCALARS,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(PLAIN_TEXT, inner, max_size=3),
        max_leaves=5,
    )
    optional: dict[str, st.SearchStrategy[Any]] = {
        "id": st.text(PLAIN_CHARS, min_size=1, max_size=10),
        "created_at": SAFE_ISO,
        "prompt": PLAIN_TEXT,
        "context": st.text(PLAIN_CHARS, min_size=1, max_size=CAP),
        **{name: SOME_TEXT for name in (*SHORT, "model_id", "outcome")},
        "latency_ms": GOOD_AMOUNTS,
        "cost": GOOD_AMOUNTS,
        "confidence": st.floats(0, 1) | st.sampled_from([0, 1]),
        "input_tokens": GOOD_COUNTS,
        "output_tokens": GOOD_COUNTS,
        "metadata": st.dictionaries(PLAIN_TEXT, plain_json, max_size=3),
    }
    record = draw(st.fixed_dictionaries({"response": PLAIN_TEXT}, optional=optional))
    # Escapes such as \n or \u001f are fine; \u0000 and surrogates are not written here.
    text = json.dumps(
        record, ensure_ascii=False, separators=draw(st.sampled_from([None, (",", ":")]))
    )
    return text.encode()
