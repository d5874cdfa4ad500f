"""The one-pass JSONL decoder: ``None`` (take the careful path) or exactly the careful record.

``fast_parse_response`` must never change what ingest stores or refuses: for any line, it either
gives up or returns the very record ``parse_response`` builds from the decoded line, with the
same id and content hash. The property test writes the JSON text itself (``fast_decode_cases``, not
through one encoder), so a line can hold what real logs hold and ``json.dumps`` never writes: raw
number literals (``1e400``, ``5.0`` for a count, ``-0``), repeated keys, lone surrogates as escapes
or as raw (invalid) UTF-8, nesting deeper than ``orjson`` goes, integers beyond 64 bits, trailing
``\\r``. Most lines are valid records, with one or a few odd values among good ones, so both
paths are exercised on every field. A second property checks the other side of the bargain: a
plain line (known fields, valid values, nothing the module lists as a reason to give up) does
take the fast path, so a change that quietly sends everything down the careful path fails too.
Random lines reach a given odd value in a given field only by chance, so one more test tries
every field of a plain record with every value next to a reason to give up.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import event, example, given
from hypothesis import settings as hsettings

from evalkit.capture.fast_decode import fast_parse_response
from evalkit.capture.ingest import Ingestor
from evalkit.capture.readers import RawItem, decode_line
from evalkit.capture.validate import FieldProblem, Limits, parse_response
from evalkit.records import ResponseRecord
from tests.capture.fast_decode_cases import (
    CAP,
    LIMITS,
    NOW,
    PROPERTY,
    SHORT,
    Obj,
    Raw,
    lines,
    plain_lines,
    render,
)

# -- the two paths ----------------------------------------------------------------------------


def fast(line: bytes) -> ResponseRecord | None:
    return fast_parse_response(line, received_at=NOW, limits=LIMITS)


def careful(line: bytes) -> ResponseRecord | str:
    """What ingest does without the fast path: the record, or why the line is turned away."""
    item = decode_line(RawItem("line 1", None, raw=line))
    if item.data is None:
        return f"unreadable: {item.error}"
    try:
        return parse_response(item.data, received_at=NOW, limits=LIMITS)
    except FieldProblem as problem:
        return f"{problem.field}: {problem.message}"


def exact(record: ResponseRecord) -> str:
    """Type-exact text of a record: ``==`` alone takes 1 for 1.0 and True inside metadata."""
    return json.dumps(msgspec.structs.asdict(record), sort_keys=True, default=repr)


def assert_same_record(got: ResponseRecord, want: ResponseRecord) -> None:
    assert got == want
    assert exact(got) == exact(want)


# -- properties -----------------------------------------------------------------------------------


@hsettings(PROPERTY, max_examples=500)
@given(lines())
@example(b'{"response": "a", "latency_ms": 1e400}')
@example(b'{"response": "a", "metadata": {"x": 1e400}}')
@example(b'{"response": "a", "input_tokens": 5.0}')
@example(b'{"response": "a", "created_at": 1700000000}')
@example(b'{"response": "a", "tenant": "x", "tenant": ""}')
@example(b'{"response": "a", "metadata": {"n": 18446744073709551616}}')
@example(b'{"response": "a", "metadata": {"n": 18446744073709551615}}')
@example(b'{"response": "a", "created_at": "9999-12-31T23:59:00-05:00"}')
@example(b'{"response": "a", "context": ["x", "y"]}')
@example(b'{"response": "\xed\xa0\x80"}')
@example(b'{"response": "\\ud83d\\ude00"}')
def test_fast_path_gives_up_or_gives_exactly_the_careful_record(line):
    """Whatever the line, the fast path agrees with the careful one or steps aside."""
    got, want = fast(line), careful(line)
    event("careful path refuses" if isinstance(want, str) else "careful path stores")
    event("fast path gives up" if got is None else "fast path decides")
    if got is None:
        return
    assert not isinstance(want, str), f"fast path stored a line the careful path refuses: {want}"
    assert_same_record(got, want)


@hsettings(PROPERTY, max_examples=150)
@given(plain_lines())
def test_a_plain_line_takes_the_fast_path(line):
    """A line with none of the documented reasons to give up is decided in one pass."""
    got, want = fast(line), careful(line)
    assert got is not None, (line, want)
    assert isinstance(want, ResponseRecord), want
    assert_same_record(got, want)


# -- pinned cases ---------------------------------------------------------------------------------

#: A plain record with every field given; ``TRICKY`` values replace one field at a time.
FULL = {
    "id": "r-1",
    "created_at": "2026-11-01T10:00:00+02:00",
    "response": "answer",
    "prompt": "question",
    "context": "policy",
    **dict.fromkeys(SHORT, "s"),
    "model_id": "m",
    "latency_ms": 120.5,
    "input_tokens": 10,
    "output_tokens": 20,
    "cost": 0.001,
    "confidence": 0.9,
    "outcome": "resolved",
    "metadata": {"region": "eu"},
}
_DEEP = Raw("[" * 300 + "]" * 300)
#: The module's reasons to give up, and values next to them that it must not get wrong.
TRICKY: list[Any] = [
    *("", " ", None, True, 0, -1, 1.5, 2**31, 2**64, 2**70, [], ["a", "b"], ["a", 1], Obj([])),
    *(Raw(x) for x in ("5.0", "1e400", "-0", "1E2", "1e-400", "-0.0")),
    *("12.5", "7", "1700000000", 1700000000, 1700000000000, 10**11, 10**11 + 1, 1.7e9),
    *("2026-01-01T00:00:00Z", "2026-01-01", "9999-12-31T23:59:00-05:00", "0001-01-01T00:00:00"),
    *("x" * CAP, "x" * (CAP + 1), "n" * 64, "n" * 65, "n" * 128, "n" * 129, "n" * 257),
    *(Raw(x) for x in ('"a\\u0000b"', '"\\ud800"', '"\\uD83D\\uDE00"', '"\\u00e9\\n"')),
    Obj([("k", 2**70)]),
    Obj([("k", -(2**63) - 1)]),
    Obj([("k", 2**64 - 1)]),
    Obj([("k", _DEEP)]),
    Obj([("k", Raw('"\\u0000"'))]),
    Obj([("", 1), ("k", 1), ("k", [1.0, None])]),
    '{"k": 1}',  # metadata as JSON text
]


def test_every_field_with_every_tricky_value_agrees_with_the_careful_path():
    """One odd value in an otherwise plain record, for every field and every tricky value.

    The property test reaches these combinations only by chance; here each is tried, so a
    missing reason to give up (an empty context, a NUL, a count written ``5.0``) fails
    every run.
    """
    wrong = []
    decided = 0
    for name in FULL:
        for value in TRICKY:
            line = render({**FULL, name: value}, ascii_only=False).encode()
            got, want = fast(line), careful(line)
            if got is None:
                continue
            decided += 1
            if isinstance(want, str) or exact(got) != exact(want) or got != want:
                wrong.append((name, value, want if isinstance(want, str) else "other record"))
    assert not wrong
    assert decided > 50  # the plain neighbours of the odd values did take the fast path


def test_unknown_field_is_left_to_the_careful_path_which_keeps_it_in_metadata():
    line = b'{"id": "a", "response": "r", "region": "eu"}'
    assert fast(line) is None
    want = careful(line)
    assert isinstance(want, ResponseRecord) and want.metadata == {"region": "eu"}


def test_empty_tenant_is_left_to_the_careful_path_which_reads_it_as_not_given():
    line = b'{"id": "a", "response": "r", "tenant": ""}'
    assert fast(line) is None
    want = careful(line)
    assert isinstance(want, ResponseRecord) and want.tenant is None


@pytest.mark.parametrize(
    "text", [b"a\\u0000b", b"\\ud800", b"\\uDC00x", b"\\ud83d\\ude00"], ids=repr
)
def test_nul_and_surrogate_escapes_are_left_to_the_careful_path(text):
    line = b'{"id": "a", "response": "' + text + b'"}'
    assert fast(line) is None
    want = careful(line)
    if b"\\ud83d\\ude00" in text:  # a valid pair: stored, as the emoji it spells
        assert isinstance(want, ResponseRecord) and want.response == "\U0001f600"
    else:
        assert isinstance(want, str) and want.startswith("response: ")


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        (
            b'{"response": "r", "created_at": "2025-01-01"}',
            "created_at",
            datetime(2025, 1, 1, tzinfo=UTC),
        ),
        (b'{"response": "r", "metadata": "{\\"a\\": [1]}"}', "metadata", {"a": [1]}),
    ],
    ids=["date alone", "metadata as text"],
)
def test_what_only_the_careful_path_coerces_is_left_to_it(line, field, value):
    """A date without a time and metadata given as JSON text are the careful path's coercions
    (midnight UTC; the object the text holds): the strict decoder refuses both, so it steps
    aside rather than store or refuse them itself."""
    assert fast(line) is None
    want = careful(line)
    assert isinstance(want, ResponseRecord) and getattr(want, field) == value


def test_plain_line_gives_the_careful_record_with_its_id_and_hash():
    line = json.dumps(
        {
            "id": "r-1",
            "created_at": "2026-11-01T10:00:00+02:00",
            "response": "Refunds take thirty days.",
            "prompt": "How long?",
            "context": "policy",
            "tenant": "acme",
            "model_id": "gpt-big",
            "latency_ms": 120,
            "input_tokens": 10,
            "output_tokens": 20,
            "cost": 0.001,
            "confidence": 0.9,
            "outcome": "resolved",
            "metadata": {"region": "eu", "n": [1, 2.5, None, {"deep": True}]},
        }
    ).encode()
    got = fast_parse_response(line, received_at=NOW, limits=Limits(1000))
    item = decode_line(RawItem("line 1", None, raw=line))
    assert item.data is not None
    want = parse_response(item.data, received_at=NOW, limits=Limits(1000))
    assert got is not None
    assert_same_record(got, want)
    assert (got.id, got.content_hash) == ("r-1", want.content_hash)
    assert got.created_at == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert got.latency_ms == 120.0 and type(got.latency_ms) is float


def test_line_without_id_gets_the_id_derived_from_its_content():
    line = b'{"response": "r", "prompt": "p", "metadata": {"k": 1}}'
    got, want = fast(line), careful(line)
    assert got is not None and isinstance(want, ResponseRecord)
    assert len(got.content_hash) == 64
    assert got.id == "sha-" + got.content_hash[:32]
    assert_same_record(got, want)


def test_a_line_nested_thousands_deep_is_refused_not_raised(db, settings, tmp_path):
    """msgspec raises RecursionError past ~1000 levels: that line is reported, the ingest
    goes on (it used to stop the whole ingest)."""
    line = b'{"id": "x", "response": "r", "metadata": {"k": ' + b"[" * 5000 + b"]" * 5000 + b"}}"
    assert fast(line) is None
    assert isinstance(careful(line), str)
    path = tmp_path / "deep.jsonl"
    path.write_bytes(b'{"id": "ok", "response": "fine"}\n' + line + b"\n")
    report = Ingestor(db, settings).ingest_files([path])
    assert (report.stored, report.invalid) == (1, 1)
    assert [(e.location, e.message) for e in report.errors] == [
        ("line 2", "malformed JSON: nested too deeply")
    ]
