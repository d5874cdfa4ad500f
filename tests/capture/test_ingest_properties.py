"""Property tests of ingest: random files mixing good, broken, repeated and blank lines.

Every generated line (``ingest_cases``) carries what ingest must do with it, worked out there and
not by evalkit's parser: a good record carries the values the store must hold afterwards
(``expected_view``), a broken one the field its error must name. ``predict`` replays the file
in order (first occurrence of an id wins; the same content again is a duplicate, other content a
conflict) and the tests compare the report and the store with that prediction.

Each example gets its own SQLite store, copied from one migrated template so no example pays for
migrations. Redaction is off so stored text can be compared with what was written (redaction has
its own tests). Failures print a ``@reproduce_failure`` blob and are saved in ``.hypothesis/``.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hsettings

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.records import IngestReport
from evalkit.settings import Settings
from evalkit.store.database import Database
from evalkit.store.queries import get_response, response_ids
from tests.capture.ingest_cases import (
    BATCH,
    LIMIT,
    Entry,
    canonical,
    csv_files,
    expected_view,
    jsonl_files,
    stored_view,
)

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
