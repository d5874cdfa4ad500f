"""The PII count in an ingest report covers what that ingest stored, and nothing else.

A re-ingest, a retried request or a repeated line stores nothing new, so it redacted nothing
new either; a record turned away (conflict, strict roll-back) was never stored. Counting them
would tell a user that PII went into the store twice, or went in at all.
"""

from __future__ import annotations

import pytest

from evalkit.capture.ingest import IngestOptions, Ingestor
from tests.helpers import record, write_jsonl

PII = "write to jane.doe@example.com or call +1-202-555-0143"


@pytest.mark.parametrize("workers", [1, 2])
def test_only_stored_records_count(db, settings, tmp_path, workers):
    settings = settings.model_copy(update={"ingest_workers": workers})
    rows = [
        record(1, prompt=PII),
        record(2, prompt="nothing personal"),
        record(1, prompt=PII),  # the same record again: a duplicate
        record(2, prompt=PII),  # id 2 with other content: a conflict, not stored
        record(3, response=f"mail {PII}", context="ops@example.org"),
    ]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    first = Ingestor(db, settings).ingest_files([path])
    assert (first.stored, first.duplicates, first.conflicts) == (3, 1, 1)
    assert first.redactions == {"email": 3, "phone": 2}

    again = Ingestor(db, settings).ingest_files([path])
    assert (again.stored, again.duplicates) == (0, 4)
    assert again.redactions == {}


def test_a_repeated_request_and_feedback_count_once(db, settings):
    body = [record(7, prompt=PII)]
    assert Ingestor(db, settings).ingest_records(body).redactions == {"email": 1, "phone": 1}
    assert Ingestor(db, settings).ingest_records(body).redactions == {}

    event = {"id": "e1", "response_id": "r-7", "kind": "comment", "value": f"it's {PII}"}
    feedback = Ingestor(db, settings, IngestOptions(kind="feedback"))
    assert feedback.ingest_records([event]).redactions == {"email": 1, "phone": 1}
    assert feedback.ingest_records([event]).redactions == {}


def test_a_strict_roll_back_counts_nothing(db, settings, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(1, prompt=PII), '{"id": "bad"}'])
    report = Ingestor(db, settings, IngestOptions(strict=True)).ingest_files([path])
    assert report.rolled_back and report.stored == 0
    assert report.redactions == {}
