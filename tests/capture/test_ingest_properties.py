"""Property tests of ingest: random files mixing good, broken, repeated and blank lines.

Every generated line carries what ingest must do with it, worked out here and not by evalkit's
parser: a good record carries the values the store must hold afterwards (``expected_view``), a
broken one the field its error must name. ``predict`` replays the file in order (first
occurrence of an id wins; the same content again is a duplicate, other content a conflict) and
the tests compare the report and the store with that prediction.

Each example gets its own SQLite store, copied from one migrated template so no example pays for
migrations. Redaction is off so stored text can be compared with what was written (redaction has
its own tests). Failures print a ``@reproduce_failure`` blob and are saved in ``.hypothesis/``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.records import IngestReport, ResponseRecord
from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.store.queries import get_response, response_ids

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
            raw[name] = value[1].isoformat() if value[0] == "iso" else value[1]
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
            cells[name] = value[1].isoformat() if value[0] == "iso" else str(value[1])
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
        out.writerow(cells)
        if entry is not None and any(cells):  # a row of empty cells is skipped like a blank
            # The reader names the physical line a row ends on; quoted cells may span lines.
            line = len(re.findall(r"\r\n|\r|\n", buffer.getvalue()))
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


# -- the oracle ---------------------------------------------------------------------------------


@dataclass
class Prediction:
    contents: dict[str, str]  # key (id, or the content for records without one) -> view
    stored: int = 0
    duplicates: int = 0
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (location, id)
    invalid: list[tuple[str, str | None]] = field(default_factory=list)  # (location, field)


def key_of(spec: dict[str, Any]) -> str:
    return spec["id"] if "id" in spec else "content:" + expected_view(spec)


def predict(entries: list[Entry], before: dict[str, str] | None = None) -> Prediction:
    p = Prediction(dict(before or {}))
    if not entries:
        p.invalid.append(("file", None))  # "the file has no records"
    for e in entries:
        if e.spec is None:
            p.invalid.append((e.location, e.field))
            continue
        key, view = key_of(e.spec), expected_view(e.spec)
        if key not in p.contents:
            p.contents[key] = view
            p.stored += 1
        elif p.contents[key] == view:
            p.duplicates += 1
        else:
            p.conflicts.append((e.location, e.spec["id"]))
    return p


def store_contents(db: Database) -> dict[str, str]:
    out = {}
    for rid in response_ids(db):
        record = get_response(db, rid)
        assert record is not None
        view = stored_view(record)
        out["content:" + view if rid.startswith("sha-") else rid] = view
    return out


def _unindexed(name: str | None) -> str | None:
    return re.sub(r"\[\d+\]$", "", name) if name else name


def check_report(report: IngestReport, entries: list[Entry], p: Prediction, exact: bool) -> None:
    assert report.read == len(entries)
    assert report.stored == p.stored
    assert report.invalid == len(p.invalid)
    good_lines = {x.location for x in entries if x.spec is not None}
    conflicts = [e for e in report.errors if e.location in good_lines]
    others = [e for e in report.errors if e.location not in good_lines]
    assert all(e.field == "id" for e in conflicts), conflicts  # a good line can only conflict
    # Every broken line is named, with its field, and no good line is. (A list element may be
    # named as the list: a context list is one text once joined.)
    named = Counter((e.location, _unindexed(e.field)) for e in others)
    assert named == Counter((loc, _unindexed(f)) for loc, f in p.invalid)
    fragments = {x.location: x.fragment for x in entries if x.spec is None}
    fragments["file"] = "the file has no records"
    for error in others:
        assert fragments[error.location] in error.message, error
    assert report.conflicts == len(conflicts)
    if exact:
        assert (report.duplicates, report.conflicts) == (p.duplicates, len(p.conflicts))
        assert Counter((e.location, e.record_id) for e in conflicts) == Counter(p.conflicts)
    else:  # every repeat is still a duplicate or a conflict, on a line carrying its id
        assert report.duplicates + report.conflicts == p.duplicates + len(p.conflicts)
        repeats = {(x.location, x.spec.get("id")) for x in entries if x.spec is not None}
        assert all((e.location, e.record_id) in repeats for e in conflicts), conflicts


# -- running ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated, empty SQLite store that each example copies."""
    path = tmp_path_factory.mktemp("template") / "evalkit.db"
    Database.open(f"sqlite:///{path}").dispose()
    return path


@pytest.fixture(scope="module")
def fresh_store(template: Path):
    """A factory of (Database, Settings) on a new store per hypothesis example."""

    @contextmanager
    def make(workers: int = 1) -> Iterator[tuple[Database, Settings]]:
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy(template, Path(tmp) / "evalkit.db")
            settings = Settings(
                data_dir=Path(tmp),
                max_field_chars=LIMIT,
                batch_size=BATCH,
                redact_enabled=False,
                ingest_workers=workers,
                _env_file=None,  # type: ignore[call-arg]
            )
            db = Database.open(settings.resolved_database_url, migrate=False)
            try:
                yield db, settings
            finally:
                db.dispose()

    return make


def ingest(db: Database, settings: Settings, path: Path, **options: Any) -> IngestReport:
    return Ingestor(db, settings, IngestOptions(**options)).ingest_files([path])


PROPERTY = hsettings(deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])


def ingest_twice_and_check(db: Database, settings: Settings, path: Path, entries: list[Entry]):
    report = ingest(db, settings, path)
    p = predict(entries)
    check_report(report, entries, p, True)
    assert store_contents(db) == p.contents

    # Again: nothing new, the same lines turned away for the same reasons.
    again = ingest(db, settings, path)
    check_report(again, entries, predict(entries, p.contents), True)
    assert sorted(map(str, again.errors)) == sorted(map(str, report.errors))
    assert store_contents(db) == p.contents


@hsettings(PROPERTY, max_examples=100)
@given(jsonl_files())
def test_jsonl_every_good_record_stored_once_and_every_broken_line_named(fresh_store, file):
    data, entries = file
    with fresh_store() as (db, settings):
        path = settings.data_dir / "in.jsonl"
        path.write_bytes(data)
        ingest_twice_and_check(db, settings, path, entries)


@pytest.mark.slow
@hsettings(PROPERTY, max_examples=25)
@given(jsonl_files())
def test_jsonl_prepared_in_worker_processes_the_same(fresh_store, file):
    """Records prepared in a pool of worker processes come back to the writer intact."""
    data, entries = file
    with fresh_store(workers=2) as (db, settings):
        path = settings.data_dir / "in.jsonl"
        path.write_bytes(data)
        ingest_twice_and_check(db, settings, path, entries)


@pytest.mark.slow
@hsettings(PROPERTY, max_examples=150)
@given(csv_files())
def test_csv_every_good_row_stored_once_and_every_broken_row_named(fresh_store, file):
    data, entries = file
    with fresh_store() as (db, settings):
        path = settings.data_dir / "in.csv"
        path.write_bytes(data)
        ingest_twice_and_check(db, settings, path, entries)


@pytest.mark.slow
@hsettings(PROPERTY, max_examples=150)
@given(jsonl_files(), jsonl_files())
def test_strict_stores_all_or_nothing(fresh_store, earlier, file):
    """With ``strict``, one rejected line (broken or conflicting) leaves the store as it was."""
    with fresh_store() as (db, settings):
        before_path, path = settings.data_dir / "before.jsonl", settings.data_dir / "in.jsonl"
        before_path.write_bytes(earlier[0])
        ingest(db, settings, before_path)
        before = predict(earlier[1]).contents
        assert store_contents(db) == before

        path.write_bytes(file[0])
        report = ingest(db, settings, path, strict=True)
        p = predict(file[1], before)
        rejected = bool(p.invalid or p.conflicts)
        event("rolled back" if rejected else "all stored")
        assert report.rolled_back == rejected
        check_report(report, file[1], replace(p, stored=0) if rejected else p, True)
        assert store_contents(db) == (before if rejected else p.contents)


# -- inputs the strategies stay clear of ---------------------------------------------------------
# The strategies keep to ordinary values. The inputs below, found while writing them, once crashed
# ingest or slipped past validation; each must now be turned away naming its line, or stored
# exactly as given.

OUT_OF_RANGE = [
    # (what line 2 holds besides id and response, the field to name (... = any))
    pytest.param('"input_tokens": 9223372036854775808', "input_tokens", id="count>int64"),
    pytest.param('"input_tokens": 2147483648', "input_tokens", id="count>int32"),
    pytest.param(f'"tenant": "{"t" * 200}"', "tenant", id="tenant>varchar128"),
    pytest.param('"created_at": 1e20', "created_at", id="epoch 1e20"),
    pytest.param('"created_at": 1e300', "created_at", id="epoch 1e300"),
    pytest.param('"created_at": "9999-12-31T23:59:59-05:00"', "created_at", id="y9999-5h"),
    pytest.param('"created_at": "0001-01-01T00:00:00+05:00"', "created_at", id="y1+5h"),
    pytest.param('"metadata": {"n": 18446744073709551616}', ..., id="int>64bit"),
    pytest.param(f'"metadata": {{"n": {"9" * 5000}}}', ..., id="5000-digit int"),
    pytest.param(f'"metadata": {{"k": {"[" * 500}{"]" * 500}}}', ..., id="500-deep"),
]


@pytest.mark.parametrize(("fields", "field"), OUT_OF_RANGE)
def test_values_out_of_range_are_turned_away_not_raised(db, settings, tmp_path, fields, field):
    path = tmp_path / "a.jsonl"
    good, odd = '{"id": "ok", "response": "fine"}', f'{{"id": "x", "response": "r", {fields}}}'
    path.write_text(f"{good}\n{odd}\n")
    report = ingest(db, settings, path)
    assert get_response(db, "ok") is not None
    if report.errors:  # turned away, naming the line and field...
        ((location, named),) = [(e.location, e.field) for e in report.errors]
        assert location == "line 2" and (field is ... or named == field)
    else:  # ...or stored as given, not rounded or cut
        stored = get_response(db, "x")
        assert stored is not None
        (name, given), *_ = json.loads(f"{{{fields}}}").items()
        assert canonical(getattr(stored, name)) == canonical(given)


def test_context_given_as_a_list_is_bounded_too(fresh_store):
    with fresh_store() as (db, settings):
        path = settings.data_dir / "a.jsonl"
        parts = json.dumps(["x" * (LIMIT // 2), "y" * (LIMIT // 2)])  # joined: LIMIT + 2
        path.write_text(f'{{"id": "x", "response": "r", "context": {parts}}}\n')
        report = ingest(db, settings, path)
        assert [(e.location, e.field) for e in report.errors] == [("line 1", "context")]
        assert response_ids(db) == []


def test_invalid_utf8_in_a_metadata_key_is_named(fresh_store):
    with fresh_store() as (db, settings):
        path = settings.data_dir / "a.jsonl"
        path.write_bytes(b'{"id": "x", "response": "r", "metadata": {"caf\xe9": 1}}\n')
        report = ingest(db, settings, path)
        ((error),) = report.errors
        assert error.location == "line 1" and error.field and "invalid UTF-8" in error.message
        assert error.field.startswith("metadata")
        assert response_ids(db) == []


def test_invalid_utf8_in_an_unknown_key_is_named(fresh_store):
    with fresh_store() as (db, settings):
        path = settings.data_dir / "a.jsonl"
        good, odd = b'{"id": "ok", "response": "r"}', b'{"id": "x", "response": "r", "caf\xe9": 1}'
        path.write_bytes(good + b"\n" + odd + b"\n")
        report = ingest(db, settings, path)
        ((error),) = report.errors
        assert error.location == "line 2" and error.field and "invalid UTF-8" in error.message
        assert response_ids(db) == ["ok"]


def test_repeats_of_a_stored_id_within_one_batch_are_each_a_conflict(fresh_store):
    with fresh_store() as (db, settings):  # batches of 3: [x a b] [x' x' c]
        path = settings.data_dir / "a.jsonl"
        rows = [("x", "one"), ("a", "a"), ("b", "b"), ("x", "two"), ("x", "two"), ("c", "c")]
        path.write_text("".join(json.dumps({"id": i, "response": r}) + "\n" for i, r in rows))
        report = ingest(db, settings, path)
        assert (report.stored, report.duplicates, report.conflicts) == (4, 0, 2)
        assert [e.location for e in report.errors] == ["line 4", "line 5"]
