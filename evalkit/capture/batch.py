"""Prepared records waiting for their batch write, and what writing them adds to the report.

``Ingestor`` collects prepared chunks into a ``PendingBatch`` and writes ``batch_size`` records
per transaction. The batch knows where each record came from (to name a conflict's line) and
what PII was replaced in it (counted only for records the write stored). Its counts are added
to the report as the batch is written, before the commit, so ``snapshot_counts`` and
``restore_counts`` let the caller undo them when the commit never happens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from evalkit.capture.prepare import PreparedChunk
from evalkit.capture.redact.record import add_counts
from evalkit.records import FeedbackEvent, IngestReport, LabelRecord
from evalkit.store.writer import WriteResult

#: What writing a batch adds to a report (``read``, ``invalid`` and file errors come before)
BATCH_COUNTS = (
    "stored",
    "duplicates",
    "conflicts",
    "unknown_response",
    "labels_stored",
    "rekeyed",
)


#: What ``snapshot_counts`` saves: the counts, the redactions, how many errors
Snapshot = tuple[tuple[int, ...], dict[str, int], int]


def snapshot_counts(report: IngestReport) -> Snapshot:
    """The report's batch counts now, to put back with ``restore_counts``."""
    return (
        tuple(getattr(report, name) for name in BATCH_COUNTS),
        dict(report.redactions),
        len(report.errors),
    )


def restore_counts(report: IngestReport, saved: Snapshot) -> None:
    """Undo what batches added to ``report`` since ``saved`` was taken."""
    values, report.redactions, errors = saved
    for name, value in zip(BATCH_COUNTS, values, strict=True):
        setattr(report, name, value)
    del report.errors[errors:]


def nothing_stored(report: IngestReport) -> None:
    """The run's one transaction was rolled back: none of what it counted as stored is."""
    report.stored = report.labels_stored = 0
    report.redactions = {}


@dataclass
class PendingBatch:
    """Prepared records waiting for the next batch write, with where each came from.

    The lists named per record line up: ``places`` with ``rows`` (responses) or ``events``
    (feedback), and ``labels`` with ``rows`` in a labelled import.
    """

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    events: list[FeedbackEvent] = field(default_factory=list)
    event_hashes: list[str] = field(default_factory=list)
    labels: list[list[LabelRecord]] = field(default_factory=list)
    #: (source, location, index)
    places: list[tuple[str, str, int | None]] = field(default_factory=list)
    #: PII replaced in each record, per kind (None: none)
    redactions: list[dict[str, int] | None] = field(default_factory=list)
    _blamed: dict[tuple[str, str], list[tuple[str, str, int | None]]] | None = None

    def add(self, chunk: PreparedChunk) -> None:
        self.rows += chunk.rows
        self.events += chunk.events
        self.event_hashes += chunk.event_hashes
        self.labels += chunk.labels
        source = chunk.source
        start = len(self.places)
        self.places += [(source, location, index) for location, index in chunk.places]
        self.redactions += [None] * len(chunk.places)
        for i, counts in chunk.redactions:
            self.redactions[start + i] = counts

    def take(self, n: int) -> PendingBatch:
        """The first ``n`` records as a batch of their own; they leave this one."""
        batch = PendingBatch(
            self.rows[:n],
            self.events[:n],
            self.event_hashes[:n],
            self.labels[:n],
            self.places[:n],
            self.redactions[:n],
        )
        del self.rows[:n], self.events[:n], self.event_hashes[:n], self.labels[:n]
        del self.places[:n], self.redactions[:n]
        return batch

    def count_redactions(self, result: WriteResult, totals: dict[str, int]) -> None:
        """Add the PII replaced in the records this batch stored: a record already there (a
        re-ingest, a retried request) or turned away had nothing of its own redacted."""
        if not any(self.redactions):
            return
        # The writer stores the first record of each new id in the batch (a conflict of a
        # labelled import under its new id); later ones with that id were not stored.
        stored = set(result.stored)
        seen: set[str] = set()
        for key, counts in zip(self.keys(), self.redactions, strict=True):
            rid = result.rekeyed.get(key, key[0])
            if rid in seen:
                continue
            seen.add(rid)
            if counts is not None and rid in stored:
                add_counts(totals, counts)

    def keys(self) -> list[tuple[str, str]]:
        """(id, content hash) of each record, in order."""
        if self.rows:
            return [(row[0], row[-1]) for row in self.rows]
        return [(e.id, h) for e, h in zip(self.events, self.event_hashes, strict=True)]

    def blame(self, key: tuple[str, str]) -> tuple[str, str, int | None]:
        """Where the next not-yet-blamed record with this key came from."""
        if self._blamed is None:  # built on the first conflict only: most batches have none
            self._blamed = {}
            for k, place in zip(self.keys(), self.places, strict=True):
                self._blamed.setdefault(k, []).append(place)
        places = self._blamed.get(key)
        return places.pop(0) if places else ("?", "?", None)

    def __len__(self) -> int:
        return len(self.places)
