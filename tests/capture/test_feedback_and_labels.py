"""Late feedback events and labelled-dataset import."""

from __future__ import annotations

import json

import pytest

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.errors import UsageError
from evalkit.records import FeedbackKind, LabelHead
from evalkit.store.queries import (
    count_labels,
    feedback_for,
    get_response,
    labels_for,
    response_ids,
)
from tests.conftest import shared_dataset
from tests.helpers import record, write_jsonl


def _ingest(db, settings, path, **options):
    return Ingestor(db, settings, IngestOptions(**options)).ingest_files([path])


def test_feedback_attaches_several_events_to_a_response(db, settings, tmp_path):
    _ingest(db, settings, write_jsonl(tmp_path / "r.jsonl", [record(1), record(2)]))
    events = [
        {
            "response_id": "r-1",
            "kind": "outcome",
            "value": "Escalated",
            "created_at": "2026-11-02T10:00:00Z",
        },
        {"response_id": "r-1", "kind": "rating", "value": -1, "source": "widget"},
        {
            "response_id": "r-1",
            "kind": "correction",
            "value": "It is 30 days, email me at a@b.example.com",
        },
        {"id": "fb-9", "response_id": "r-2", "kind": "rating", "value": "up"},
    ]
    report = _ingest(db, settings, write_jsonl(tmp_path / "f.jsonl", events), kind="feedback")
    assert (report.stored, report.errors) == (4, [])
    stored = feedback_for(db, "r-1")
    assert [(e.kind, e.value) for e in stored][:1] == [(FeedbackKind.OUTCOME, "escalated")]
    assert {e.value for e in stored} >= {"down", "escalated"}
    correction = next(e for e in stored if e.kind is FeedbackKind.CORRECTION)
    assert "[EMAIL]" in correction.value
    assert feedback_for(db, "r-2")[0].id == "fb-9"
    assert report.redactions == {"email": 1}


def test_feedback_is_idempotent_and_unknown_ids_are_reported(db, settings, tmp_path):
    _ingest(db, settings, write_jsonl(tmp_path / "r.jsonl", [record(1)]))
    events = [
        {"response_id": "r-1", "kind": "rating", "value": "up"},
        {"response_id": "nope", "kind": "rating", "value": "up"},
        {"response_id": "r-1", "kind": "rating", "value": "sideways"},
        {"response_id": "r-1", "kind": "mood", "value": "x"},
    ]
    path = write_jsonl(tmp_path / "f.jsonl", events)
    first = _ingest(db, settings, path, kind="feedback")
    assert first.stored == 1 and first.unknown_response == 1 and first.invalid == 2
    errors = {e.location: e for e in first.errors}
    assert errors["line 2"].field == "response_id" and "'nope'" in errors["line 2"].message
    assert errors["line 3"].field == "value" and "'up' or 'down'" in errors["line 3"].message
    assert errors["line 4"].field == "kind"
    second = _ingest(db, settings, path, kind="feedback")
    assert second.stored == 0 and second.duplicates == 1
    assert len(feedback_for(db, "r-1")) == 1


def test_labelled_import_stores_responses_and_attributed_labels(db, settings, tmp_path):
    rows = [
        {
            "id": "h-1",
            "prompt": "q",
            "response": "a",
            "model_id": "chatgpt",
            "source": "Set (MIT)",
            "labels": {"hallucination": True},
        },
        {
            "id": "p-1",
            "prompt": "",
            "response": "Could you please help?",
            "tone_score": 0.8,
            "labels": {"impolite": False, "tone": "polite"},
        },
        {"id": "bad-1", "response": "x", "labels": {"tone": "grumpy"}},
        {"id": "bad-2", "response": "x", "labels": {"sarcasm": True}},
        {"id": "bad-3", "response": "x"},
    ]
    path = write_jsonl(tmp_path / "l.jsonl", rows)
    report = _ingest(db, settings, path, kind="labelled", label_source="Annotators Inc")
    assert report.stored == 2 and report.labels_stored == 3 and report.invalid == 3
    fields = {e.location: e.field for e in report.errors}
    assert fields == {"line 3": "labels.tone", "line 4": "labels.sarcasm", "line 5": "labels"}
    labels = {label.head: label for label in labels_for(db, "p-1")}
    assert labels[LabelHead.TONE].value == "polite" and labels[LabelHead.IMPOLITE].value is False
    assert labels[LabelHead.TONE].annotator == "Annotators Inc"
    assert labels[LabelHead.TONE].source_kind == "import"
    assert get_response(db, "h-1").metadata == {"source": "Set (MIT)"}

    again = _ingest(db, settings, path, kind="labelled", label_source="Annotators Inc")
    assert again.stored == 0 and again.labels_stored == 0 and count_labels(db) == 3


def test_a_changed_label_supersedes_and_keeps_history(db, settings, tmp_path):
    row = {"id": "h-1", "response": "a", "labels": {"hallucination": True}}
    _ingest(
        db, settings, write_jsonl(tmp_path / "a.jsonl", [row]), kind="labelled", label_source="s"
    )
    row["labels"] = {"hallucination": False}
    report = _ingest(
        db, settings, write_jsonl(tmp_path / "b.jsonl", [row]), kind="labelled", label_source="s"
    )
    assert report.labels_stored == 1
    (current,) = labels_for(db, "h-1")
    history = labels_for(db, "h-1", history=True)
    assert current.value is False and current.supersedes_id == history[0].id
    assert [label.value for label in history] == [True, False]


def test_ids_reused_for_other_content_in_a_dataset_are_rekeyed_not_lost(db, settings, tmp_path):
    rows = [
        {"id": "dup", "response": "first text", "labels": {"impolite": False}},
        {"id": "dup", "response": "second text", "labels": {"impolite": True}},
        {"id": "dup", "response": "first text", "labels": {"impolite": False}},
    ]
    path = write_jsonl(tmp_path / "l.jsonl", rows)
    report = _ingest(db, settings, path, kind="labelled", label_source="corpus")
    assert (report.stored, report.duplicates, report.rekeyed, report.errors) == (2, 1, 1, [])
    second_id = next(rid for rid in response_ids(db) if rid != "dup")
    assert second_id.startswith("dup#")
    moved = get_response(db, second_id)
    assert moved.response == "second text" and moved.metadata["source_id"] == "dup"
    assert [label.value for label in labels_for(db, "dup")] == [False]
    assert [label.value for label in labels_for(db, second_id)] == [True]
    again = _ingest(db, settings, path, kind="labelled", label_source="corpus")
    assert (again.stored, again.labels_stored, again.rekeyed, again.errors) == (0, 0, 0, [])
    assert again.duplicates == 3  # the re-keyed record was already there under its new id


def test_labelled_import_needs_a_source(db, settings):
    with pytest.raises(UsageError, match="--source"):
        Ingestor(db, settings, IngestOptions(kind="labelled"))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name",
    [
        "halueval_general.jsonl",
        "diasafety_train.jsonl",
        "diasafety_val.jsonl",
        "politeness_stackexchange.jsonl",
    ],
)
def test_every_shared_dataset_imports_without_error(sqlite_settings, tmp_path, name):
    from evalkit.store.database import Database

    path = shared_dataset(name)
    expected = sum(1 for line in path.open(encoding="utf-8") if line.strip())
    heads = sum(
        len(json.loads(line)["labels"]) for line in path.open(encoding="utf-8") if line.strip()
    )
    db = Database.open(sqlite_settings.resolved_database_url)
    report = _ingest(db, sqlite_settings, path, kind="labelled", label_source=name)
    assert report.errors == [] and report.stored == expected and report.labels_stored == heads
    assert count_labels(db, annotator=name) == heads


def test_reviewer_words_come_back_as_stored_beside_imported_booleans(db, settings, tmp_path):
    """Reviewers store the schema's words (yes, unsure, high); only true/false are booleans."""
    from datetime import UTC, datetime

    from evalkit.records import LabelRecord

    row = {"id": "w-1", "response": "a", "labels": {"hallucination": True}}
    _ingest(
        db, settings, write_jsonl(tmp_path / "w.jsonl", [row]), kind="labelled", label_source="s"
    )
    now = datetime(2026, 11, 3, tzinfo=UTC)
    with db.writer() as writer:
        writer.add_labels(
            [
                LabelRecord(
                    response_id="w-1", head=head, value=value, annotator="r1", created_at=now
                )
                for head, value in ((LabelHead.HALLUCINATION, "unsure"), (LabelHead.HARM, "high"))
            ]
        )
    values = {(label.annotator, label.head): label.value for label in labels_for(db, "w-1")}
    assert values[("s", LabelHead.HALLUCINATION)] is True
    assert values[("r1", LabelHead.HALLUCINATION)] == "unsure"
    assert values[("r1", LabelHead.HARM)] == "high"
