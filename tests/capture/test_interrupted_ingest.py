"""An ingest stopped in the middle of a batch reports only what is stored.

A batch is counted as it is written, before its transaction commits; the signal can land after
that (while its labels are written, or in the commit), and the batch is then rolled back. The
report carried by ``IngestInterrupted``, which the CLI prints and the audit row keeps, must not
count it. (``test_cli_interrupt`` stops the real command with real signals.)
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from evalkit.capture.ingest import IngestOptions, Ingestor
from evalkit.errors import IngestInterrupted
from evalkit.store.queries import count_responses
from evalkit.store.tables import INGEST_RUNS
from evalkit.store.writer import Writer
from tests.helpers import write_jsonl


def test_a_batch_rolled_back_by_the_interrupt_is_not_counted(db, settings, tmp_path, monkeypatch):
    rows = [
        {"id": f"l-{i}", "response": f"mail me at user{i}@example.com", "labels": {"harm": False}}
        for i in range(30)
    ]
    path = write_jsonl(tmp_path / "labelled.jsonl", rows)
    settings = settings.model_copy(update={"batch_size": 10})
    real_add_labels = Writer.add_labels
    calls = 0

    def add_labels_then_interrupt(self, labels):
        nonlocal calls
        calls += 1
        if calls == 2:  # the second batch: its responses are written and counted by now
            raise KeyboardInterrupt
        return real_add_labels(self, labels)

    monkeypatch.setattr(Writer, "add_labels", add_labels_then_interrupt)
    ingestor = Ingestor(db, settings, IngestOptions(kind="labelled", label_source="team"))
    with pytest.raises(IngestInterrupted) as stopped:
        ingestor.ingest_files([path])

    report = stopped.value.report
    assert count_responses(db) == 10
    assert (report.stored, report.labels_stored, report.redactions) == (10, 10, {"email": 10})
    with db.engine.connect() as conn:
        runs = conn.execute(select(INGEST_RUNS.c.status, INGEST_RUNS.c.stored)).all()
    assert [tuple(r) for r in runs] == [("interrupted", 10)]
