"""Generated input files for the ingest property tests, each line carrying what ingest must do.

A good line carries the values the store must hold afterwards (``expected_view``), worked out
here and not by evalkit's parser; a broken one carries the field its error must name and a
fragment of the message (``Entry``). ``jsonl_files`` and ``csv_files`` mix good, broken,
repeated and blank lines; ``test_ingest_properties`` replays them against a real store.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from evalkit.records import ResponseRecord

LIMIT = 24  # max_field_chars: small, so over-long text is cheap to make
BATCH = 3  # batch_size: many batch boundaries in a short file
SHORT = ("tenant", "model_id", "model_version", "prompt_version", "intent", "user_segment")
FLOATS = ("latency_ms", "cost", "confidence")
COUNTS = ("input_tokens", "output_tokens")
NUMBERS = FLOATS + COUNTS
KNOWN = {"id", "response", "prompt", "context", "outcome", "created_at", "metadata"}
KNOWN |= {*SHORT, *NUMBERS}
MARK = "@BAD@"  # replaced by invalid UTF-8 bytes once the line is serialised
BAD_BYTES = [b"\xff", b"\xfe", b"\x80", b"\xbf", b"\xc3", b"\xe9", b"\xe2\x82", b"\xc0\xaf"]
BAD_BYTES += [b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]  # an encoded surrogate, beyond U+10FFFF

# -- strategies ---------------------------------------------------------------------------------

# Valid UTF-8 (no surrogates) and no NUL, which the validator turns away as unstorable.
CHARS = st.characters(codec="utf-8", exclude_characters="\x00")
TEXT = st.text(CHARS, max_size=8)
KEYS = st.text(CHARS, min_size=1, max_size=6)
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=5,
)
OFFSETS = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
TIMESTAMPS = st.one_of(
    st.tuples(
        st.just("iso"),
        st.datetimes(datetime(1970, 1, 2), datetime(2100, 1, 1), timezones=st.none() | OFFSETS),
    ),
    st.tuples(st.just("s"), st.integers(0, 4 * 10**9)),  # epoch seconds
    st.tuples(st.just("ms"), st.integers(10**12, 4 * 10**12)),  # epoch milliseconds
    st.tuples(st.just("day"), st.dates(date(1970, 1, 2), date(2100, 1, 1))),  # midnight UTC
)
AMOUNTS = st.floats(0, 1e12) | st.integers(0, 10**9)


def record_specs(*, csv_only: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    """The content of a valid record (without its id); CSV can only carry text cells."""
    optional: dict[str, st.SearchStrategy[Any]] = {
        "prompt": TEXT,
        "context": TEXT if csv_only else TEXT | st.lists(KEYS, min_size=1, max_size=3),
        "outcome": TEXT,
        "created_at": TIMESTAMPS,
        "latency_ms": AMOUNTS,
        "cost": AMOUNTS,
        "confidence": st.floats(0, 1) | st.sampled_from([0, 1]),
        **{name: TEXT for name in SHORT},
        **{name: st.integers(0, 2**31 - 1) for name in COUNTS},  # what PostgreSQL's INTEGER holds
        "extras": st.dictionaries(
            st.sampled_from(["region", "note"])
            if csv_only
            else KEYS.filter(lambda k: k not in KNOWN),
            TEXT if csv_only else JSON_VALUES,
            max_size=2,
        ),
    }
    if not csv_only:
        optional["metadata"] = st.dictionaries(KEYS, JSON_VALUES, max_size=3)
    return st.fixed_dictionaries({"response": TEXT}, optional=optional)


def instant(stamp: tuple[str, Any] | None) -> datetime | None:
    if stamp is None:
        return None
    kind, value = stamp
    if kind == "iso":
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if kind == "day":
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (timedelta(seconds=value) if kind == "s" else timedelta(milliseconds=value))


def canonical(value: Any) -> str:
    """Type-exact JSON text: 1, 1.0 and true differ."""
    return json.dumps(value, sort_keys=True, default=str, ensure_ascii=False)


def expected_view(spec: dict[str, Any]) -> str:
    """What the store must hold for a valid record, as canonical JSON."""
    metadata = {k: v for k, v in spec.get("extras", {}).items() if v is not None and v != ""}
    metadata.update(spec.get("metadata", {}))
    context = spec.get("context")
    view = {
        "id": spec.get("id"),
        "response": spec["response"],
        "prompt": spec.get("prompt", ""),
        "context": "\n\n".join(context) if isinstance(context, list) else context or None,
        **{name: spec.get(name) or None for name in (*SHORT, "outcome")},
        **{name: float(spec[name]) if name in spec else None for name in FLOATS},
        **{name: spec.get(name) for name in COUNTS},
        "metadata": metadata,
        "created_at": instant(spec.get("created_at")),
    }
    return canonical(view)


VIEW_FIELDS = ("id", "response", "prompt", "context", *SHORT, "outcome", *NUMBERS, "metadata")


def stored_view(record: ResponseRecord) -> str:
    view = {name: getattr(record, name) for name in (*VIEW_FIELDS, "created_at")}
    if record.id.startswith("sha-"):
        view["id"] = None  # content-derived: the spec had none
    if record.created_at == record.received_at:
        view["created_at"] = None  # not given: ingest used the time it was received
    return canonical(view)


@dataclass(frozen=True)
class Entry:
    """One non-blank line and what ingest must do with it."""

    location: str
    spec: dict[str, Any] | None = None  # a valid record
    field: str | None = None  # for a broken one: the field its error names (None: whole line)
    fragment: str = ""  # ...and a piece of its message


def render_json(spec: dict[str, Any], draw: Any) -> dict[str, Any]:
    """A valid record as a JSON object: numbers as numbers or text, keys in any order."""
    raw: dict[str, Any] = {}
    for name, value in spec.items():
        if name == "extras":
            raw.update(value)
        elif name == "created_at":
            raw[name] = value[1].isoformat() if value[0] in ("iso", "day") else value[1]
        elif name in NUMBERS and draw(st.booleans()):
            raw[name] = repr(value)
        else:
            raw[name] = value
    order = draw(st.permutations(list(raw)))
    return {key: raw[key] for key in order}


def render_cells(spec: dict[str, Any], header: list[str]) -> list[str]:
    cells = dict(spec.get("extras", {}))
    for name, value in spec.items():
        if name == "created_at":
            cells[name] = value[1].isoformat() if value[0] in ("iso", "day") else str(value[1])
        elif name != "extras":
            cells[name] = repr(value) if name in NUMBERS else value
    return [cells.get(column, "") for column in header]


# -- broken records: exactly one defect each ----------------------------------------------------

NOT_NUMBERS = st.sampled_from(["fast", "n/a", "12 ms", "1,5", "--1", "one"])


def field_defect(draw: Any, raw: dict[str, Any], *, csv_only: bool) -> tuple[str, str]:
    """Spoil one field of ``raw`` in place; returns (field, message fragment)."""
    kind = draw(
        st.sampled_from(
            ["not a number", "negative", "confidence", "long text", "bad time", "long id"]
            + ["long short", "utf8", "utf8"]
            + ([] if csv_only else ["missing", "bool", "metadata", "text type"])
        )
    )
    as_text = csv_only or draw(st.booleans())
    if kind == "missing":
        del raw["response"]
        return "response", "required field is missing"
    if kind == "not a number":
        name = draw(st.sampled_from(NUMBERS))
        bad = NOT_NUMBERS | st.just("7.5" if name in COUNTS else "7,5")
        if not csv_only:
            bad |= st.lists(st.integers(0, 9), max_size=2) | st.just({})
        raw[name] = draw(bad)
        return name, ""
    if kind == "negative":
        name = draw(st.sampled_from(NUMBERS))
        value = -draw(
            st.integers(1, 10**9)
            if name in COUNTS
            else st.floats(0, 1e12, exclude_min=True, allow_subnormal=False)
        )
        raw[name] = repr(value) if as_text else value
        return name, ""
    if kind == "confidence":
        value = draw(st.floats(1, exclude_min=True, allow_infinity=False))
        raw["confidence"] = repr(value) if as_text else value
        return "confidence", ""
    if kind == "bool":
        name = draw(st.sampled_from(NUMBERS))
        raw[name] = draw(st.booleans())
        return name, ""
    if kind == "long text":
        name = draw(st.sampled_from(["response", "prompt", "context"]))
        raw[name] = draw(st.text(CHARS, min_size=LIMIT + 1, max_size=LIMIT + 8))
        return name, f"over the limit of {LIMIT}"
    if kind == "long short":
        name = draw(st.sampled_from(SHORT))
        raw[name] = "s" * draw(st.integers(257, 260))
        return name, ""
    if kind == "long id":
        raw["id"] = "i" * draw(st.integers(129, 140))
        return "id", ""
    if kind == "bad time":
        raw["created_at"] = draw(st.sampled_from(["yesterday", "2026-13-01", "2026-02-30T10:00"]))
        return "created_at", ""
    if kind == "metadata":
        raw["metadata"] = draw(st.sampled_from([[1], "x", 3, True, []]))
        return "metadata", ""
    if kind == "text type":
        name = draw(st.sampled_from(["response", "prompt", "tenant", "id"]))
        raw[name] = draw(st.integers() | st.booleans())
        return name, ""
    # Invalid UTF-8 inside one string, wherever strings are: the error names that string.
    targets: list[tuple[str, Any]] = [(k, None) for k, v in raw.items() if isinstance(v, str)]
    if isinstance(raw.get("metadata"), dict):
        targets += [("metadata", k) for k, v in raw["metadata"].items() if isinstance(v, str)]
    if isinstance(raw.get("context"), list):
        targets += [("context", i) for i in range(len(raw["context"]))]
    assume(targets)
    outer, key = draw(st.sampled_from(targets))
    holder, slot = (raw, outer) if key is None else (raw[outer], key)
    at = draw(st.integers(0, len(holder[slot])))
    holder[slot] = holder[slot][:at] + MARK + holder[slot][at:]
    name = outer if key is None else f"{outer}.{key}" if outer == "metadata" else f"{outer}[{key}]"
    return name, "invalid UTF-8"


def spoil(data: bytes) -> Any:
    """A strategy replacing the one MARK in ``data`` with invalid UTF-8."""
    assume(data.count(MARK.encode()) == 1)
    return st.sampled_from(BAD_BYTES).map(lambda bad: data.replace(MARK.encode(), bad))


@st.composite
def ids(draw: Any, specs: list[dict[str, Any]], prefix: str) -> list[dict[str, Any]]:
    """Give each spec a unique id, or none (then ingest derives one from the content)."""
    out = []
    for i, spec in enumerate(specs):
        if draw(st.integers(0, 4)):
            spec = {**spec, "id": f"{prefix}{i}:{draw(TEXT)}"}
        out.append(spec)
    return out


@st.composite
def line_plans(draw: Any, *, csv_only: bool) -> tuple[list[dict[str, Any]], list[tuple]]:
    """Base records and, per line, what to write: a base record again, a changed copy of one
    (a conflict when its id was seen), a broken record, or a blank line."""
    bases = draw(
        st.lists(record_specs(csv_only=csv_only), max_size=6).flatmap(lambda specs: ids(specs, "r"))
    )
    kinds = ["record"] * 3 + ["variant", "broken", "broken", "blank"]
    plan = []
    for kind in draw(st.lists(st.sampled_from(kinds), min_size=1, max_size=24)):
        if kind in ("record", "variant") and bases:
            base = bases[draw(st.integers(0, len(bases) - 1))]
            if kind == "variant":
                name = draw(st.sampled_from(["response", "prompt"]))
                base = {**base, name: base.get(name, "") + "\u2021"}
            plan.append(("record", base))
        elif kind == "broken":
            spec = draw(record_specs(csv_only=csv_only))
            reuse = [b["id"] for b in bases if "id" in b]
            choice = draw(st.sampled_from(["fresh", "none"] + (["reuse"] if reuse else [])))
            if choice == "fresh":
                spec["id"] = f"b{len(plan)}"
            elif choice == "reuse":
                spec["id"] = draw(st.sampled_from(reuse))  # a broken line must not block it
            plan.append(("broken", spec))
        else:
            plan.append(("blank", None))
    return bases, plan


@st.composite
def jsonl_files(draw: Any) -> tuple[bytes, list[Entry]]:
    _, plan = draw(line_plans(csv_only=False))
    lines = []
    for kind, spec in plan:
        if kind == "blank":
            lines.append((draw(st.sampled_from([b"", b"  ", b"\t", b"\r"])), None))
        elif kind == "record":
            raw = render_json(spec, draw)
            data = json.dumps(raw, ensure_ascii=draw(st.booleans())).encode()
            lines.append((data, Entry("", spec=spec)))
        else:
            lines.append(draw(broken_json_line(spec)))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    data = ending.join(d for d, _ in lines) + draw(st.sampled_from([ending, b""]))
    entries = [
        Entry(f"line {n}", e.spec, e.field, e.fragment)
        for n, (_, e) in enumerate(lines, start=1)
        if e is not None
    ]
    return data, entries


@st.composite
def broken_json_line(draw: Any, spec: dict[str, Any]) -> tuple[bytes, Entry]:
    kind = draw(st.sampled_from(["field"] * 4 + ["not an object", "truncated"]))
    raw = render_json(spec, draw)
    if kind == "not an object":
        value = draw(st.none() | st.booleans() | st.integers() | TEXT | st.lists(st.integers()))
        return json.dumps(value).encode(), Entry("", field=None, fragment="expected a JSON object")
    if kind == "truncated":
        whole = json.dumps(raw, ensure_ascii=draw(st.booleans())).encode()
        cut = draw(st.integers(1, len(whole) - 1))
        return whole[:cut], Entry("", field=None, fragment="malformed JSON")
    named, fragment = field_defect(draw, raw, csv_only=False)
    data = json.dumps(raw, ensure_ascii=draw(st.booleans())).encode()
    if fragment == "invalid UTF-8":
        data = draw(spoil(data))
    return data, Entry("", field=named, fragment=fragment)


CSV_COLUMNS = ["id", "response", "prompt", "context", "outcome", "created_at", *SHORT, *NUMBERS]
CSV_COLUMNS += ["region", "note"]  # unknown columns: kept in metadata


@st.composite
def csv_files(draw: Any) -> tuple[bytes, list[Entry]]:
    """A CSV file: header in any order, every value text, empty cells for absent fields."""
    header = draw(st.permutations(CSV_COLUMNS))
    _, plan = draw(line_plans(csv_only=True))
    buffer = io.StringIO()
    # csv.writer quotes a lone "\r" only when it is part of the line terminator.
    ending, quoting = draw(st.sampled_from([("\r\n", csv.QUOTE_MINIMAL), ("\n", csv.QUOTE_ALL)]))
    out = csv.writer(buffer, lineterminator=ending, quoting=quoting)
    out.writerow(header)
    entries, spoiled = [], 0
    for kind, spec in plan:
        entry: Entry | None = None
        if kind == "blank":
            cells = draw(st.sampled_from([[], [""] * len(header)]))
        elif kind == "record":
            cells = render_cells(spec, header)
            entry = Entry("", spec=spec)
        else:
            cells, entry = draw(broken_csv_row(spec, header))
            spoiled += entry.fragment == "invalid UTF-8"
        # The reader names the physical line a row starts on; quoted cells may span lines.
        line = len(re.findall(r"\r\n|\r|\n", buffer.getvalue())) + 1
        out.writerow(cells)
        if entry is not None and any(cells):  # a row of empty cells is skipped like a blank
            entries.append(Entry(f"line {line}", entry.spec, entry.field, entry.fragment))
    data = draw(st.sampled_from([b"", b"\xef\xbb\xbf"])) + buffer.getvalue().encode()
    assume(data.count(MARK.encode()) == spoiled)
    for _ in range(spoiled):
        data = data.replace(MARK.encode(), draw(st.sampled_from(BAD_BYTES)), 1)
    return data, entries


@st.composite
def broken_csv_row(draw: Any, spec: dict[str, Any], header: list[str]) -> tuple[list, Entry]:
    raw = dict(zip(header, render_cells(spec, header), strict=True))
    kind = draw(st.sampled_from(["field"] * 4 + ["short row", "long row"]))
    if kind == "short row" and header.index("response") > 0:
        cut = draw(st.integers(1, header.index("response")))
        return list(raw.values())[:cut], Entry(
            "", field="response", fragment="required field is missing"
        )
    if kind != "field":
        cells = [*raw.values(), draw(st.text(CHARS, min_size=1, max_size=4))]
        return cells, Entry("", field=None, fragment=f"but the header has {len(header)}")
    named, fragment = field_defect(draw, raw, csv_only=True)
    return [raw[c] for c in header], Entry("", field=named, fragment=fragment)
