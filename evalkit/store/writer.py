"""Batch writes with de-duplication: the hot path of ingest.

Every ``add_*`` call takes a batch inside one write transaction and says which records were
stored, which were exact duplicates (same id, same content: nothing to do) and which were
conflicts (same id, other content: never silently overwritten). Responses are inserted in one
statement that skips taken ids, and only the ids it skipped are looked up, so new data costs
no lookup at all. Because the skip happens in the insert itself, two ingests of the same file
at once cannot fail each other or store twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update

from evalkit.records import FeedbackEvent, LabelRecord, ResponseRecord
from evalkit.store import mappers
from evalkit.store.bulk import insert_missing, select_by_ids, storage_rows
from evalkit.store.rows import RESPONSE_COLUMNS, json_text, json_value, response_row
from evalkit.store.tables import FEEDBACK, LABELS, RESPONSES

#: Ids per IN (...) lookup; well under SQLite's and PostgreSQL's parameter limits.
LOOKUP_CHUNK = 5000


@dataclass
class WriteResult:
    stored: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    #: (id, content hash) of each record turned away because its id holds other content
    conflicts: list[tuple[str, str]] = field(default_factory=list)
    #: (id, content hash) of each feedback event whose response does not exist
    unknown: list[tuple[str, str]] = field(default_factory=list)
    #: (original id, content hash) -> id stored under, for ``rekey_conflicts``
    rekeyed: dict[tuple[str, str], str] = field(default_factory=dict)


class Writer:
    """Adds batches inside one transaction (see ``Database.writer``)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add_responses(
        self, records: Sequence[ResponseRecord], *, rekey_conflicts: bool = False
    ) -> WriteResult:
        """Store new responses (see ``add_response_rows``)."""
        rows = [response_row(r) for r in records]
        return self.add_response_rows(rows, rekey_conflicts=rekey_conflicts)

    def add_response_rows(
        self, rows: Sequence[tuple[Any, ...]], *, rekey_conflicts: bool = False
    ) -> WriteResult:
        """Store new responses given as storage rows (``store.rows.response_row``).

        ``rekey_conflicts`` is for third-party datasets whose ids are not unique: a record whose id
        is taken by other content is stored as ``ID#<hash8>`` (its own id kept in
        ``metadata.source_id``) instead of being turned away. The suffix comes from the content,
        so re-importing the file still adds nothing.
        """
        result = WriteResult()
        firsts: dict[str, tuple[str, tuple[Any, ...]]] = {}
        repeats = _first_of_each(((row[0], row[-1], row) for row in rows), firsts)
        # New data is the common case: insert first, look up only the ids that were there.
        fresh = [row for _, row in firsts.values()]
        stored_hash = self._insert_rows(RESPONSES, RESPONSE_COLUMNS, fresh, result)
        _settle_repeats(repeats, firsts, stored_hash, result)
        if rekey_conflicts and result.conflicts:
            self._rekey(rows, result)
        return result

    def _rekey(self, rows: Sequence[tuple[Any, ...]], result: WriteResult) -> None:
        conflicts = result.conflicts
        keys = set(conflicts)
        moved: dict[tuple[str, str], tuple[Any, ...]] = {}
        for row in rows:
            key = (row[0], row[-1])
            if key in keys and key not in moved:
                moved[key] = _rekeyed(row)
        second = self.add_response_rows(list(moved.values()))
        settled = set(second.stored) | set(second.duplicates)
        result.rekeyed = {key: new[0] for key, new in moved.items() if new[0] in settled}
        result.stored.extend(second.stored)
        result.duplicates.extend(second.duplicates)
        # Further items with a moved key repeat the one just stored: duplicates of it.
        result.conflicts = list(second.conflicts)
        for key in conflicts:
            if key in result.rekeyed:
                if key in keys:
                    keys.discard(key)  # its first occurrence was counted by the second pass
                else:
                    result.duplicates.append(key[0])
            else:
                result.conflicts.append(key)

    def add_feedback(self, events: Sequence[FeedbackEvent], hashes: Sequence[str]) -> WriteResult:
        result = WriteResult()
        by_id: dict[str, tuple[str, FeedbackEvent]] = {}
        repeats = _first_of_each(
            ((e.id, digest, e) for e, digest in zip(events, hashes, strict=True)), by_id
        )
        existing_responses = self._existing_ids(
            RESPONSES,
            {e.response_id for _, e in by_id.values()},
        )
        known: dict[str, tuple[str, FeedbackEvent]] = {}
        for fid, (digest, event) in by_id.items():
            if event.response_id in existing_responses:
                known[fid] = (digest, event)
            else:
                result.unknown.append((fid, digest))
        fresh, stored_hash = self._split_known(FEEDBACK, known, result)
        rows = [mappers.feedback_to_row(e, known[e.id][0]) for e in fresh]
        self._insert_new(FEEDBACK, rows, result)
        _settle_repeats(repeats, by_id, stored_hash, result)
        return result

    def add_labels(self, labels: Sequence[LabelRecord]) -> WriteResult:
        """Append labels; an unchanged label is a duplicate, a changed one supersedes the last.

        Ids in the result are ``response_id/head/annotator`` keys.
        """
        result = WriteResult()
        table = LABELS
        present = self._existing_ids(
            RESPONSES,
            {label.response_id for label in labels},
        )
        current: dict[tuple[str, str, str], tuple[int, Any, int | None]] = {}
        ids = sorted({label.response_id for label in labels} & present)
        for chunk in _chunks(ids, LOOKUP_CHUNK):
            rows = self._conn.execute(
                select(
                    table.c.id,
                    table.c.response_id,
                    table.c.head,
                    table.c.annotator,
                    table.c.value,
                    table.c.severity,
                ).where(table.c.response_id.in_(chunk), table.c.current.is_(True))
            )
            for row in rows:
                current[(row.response_id, row.head, row.annotator)] = (
                    row.id,
                    row.value,
                    row.severity,
                )
        for label in labels:
            key = (label.response_id, label.head.value, label.annotator)
            name = "/".join(key)
            text = mappers.label_value_to_text(label.value)
            if label.response_id not in present:
                result.unknown.append((name, text))
                continue
            previous = current.get(key)
            if previous is not None and previous[1] == text and previous[2] == label.severity:
                result.duplicates.append(name)
                continue
            values = mappers.label_to_row(label)
            values["current"] = True
            if previous is not None:
                self._conn.execute(
                    update(table).where(table.c.id == previous[0]).values(current=False)
                )
                values["supersedes_id"] = previous[0]
            new_id = self._conn.execute(insert(table).returning(table.c.id), values).scalar_one()
            current[key] = (new_id, text, label.severity)
            result.stored.append(name)
        return result

    # -- helpers -----------------------------------------------------------------------------

    def _existing_ids(self, table: Table, ids: Iterable[str]) -> set[str]:
        found: set[str] = set()
        for chunk in _chunks(sorted(ids), LOOKUP_CHUNK):
            found.update(
                self._conn.execute(select(table.c.id).where(table.c.id.in_(chunk))).scalars()
            )
        return found

    def _split_known(
        self, table: Table, candidates: dict[str, tuple[str, Any]], result: WriteResult
    ) -> tuple[list[Any], dict[str, str]]:
        """Drop candidates whose id is stored already, as duplicates or conflicts.

        Returns the new candidates and the content hash of each id found in the store.
        """
        stored_hash: dict[str, str] = {}
        for chunk in _chunks(list(candidates), LOOKUP_CHUNK):
            stored_hash.update(select_by_ids(self._conn, table, ("id", "content_hash"), chunk))
        fresh = []
        for cid, (digest, item) in candidates.items():
            if cid not in stored_hash:
                fresh.append(item)
            elif stored_hash[cid] == digest:
                result.duplicates.append(cid)
            else:
                result.conflicts.append((cid, digest))
        return fresh, stored_hash

    def _insert_new(
        self, table: Table, rows: Sequence[Mapping[str, Any]], result: WriteResult
    ) -> None:
        """Insert rows (column name -> Python value) whose id is not stored yet."""
        columns = [c.name for c in table.columns]
        self._insert_rows(table, columns, storage_rows(table, columns, rows), result)

    def _insert_rows(
        self,
        table: Table,
        columns: Sequence[str],
        rows: Sequence[tuple[Any, ...]],
        result: WriteResult,
    ) -> dict[str, str]:
        """Insert storage rows (distinct ids, id first, content hash last) whose id is new.

        Rows whose id is taken are duplicates (same hash) or conflicts; returns the stored
        hash of each of those ids.
        """
        if not rows:
            return {}
        inserted = insert_missing(self._conn, table, columns, rows)
        result.stored.extend(row[0] for row in rows if row[0] in inserted)
        taken = [row for row in rows if row[0] not in inserted]
        stored_hash: dict[str, str] = {}
        for chunk in _chunks([row[0] for row in taken], LOOKUP_CHUNK):
            stored_hash.update(select_by_ids(self._conn, table, ("id", "content_hash"), chunk))
        for row in taken:
            if stored_hash.get(row[0]) == row[-1]:
                result.duplicates.append(row[0])
            else:
                result.conflicts.append((row[0], row[-1]))
        return stored_hash


def _rekeyed(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """A response row stored under ``ID#<hash8>``, its own id kept in ``metadata.source_id``."""
    rid, digest = row[0], row[-1]
    # Ids are at most 128 characters: shorten the original to fit the suffix.
    new_id = f"{rid[: 128 - 9]}#{digest[:8]}"
    at = RESPONSE_COLUMNS.index("metadata")
    metadata = {**json_value(row[at]), "source_id": rid}
    return (new_id, *row[1:at], json_text(metadata), *row[at + 1 :])


def _first_of_each(
    items: Iterable[tuple[str, str, Any]], firsts: dict[str, tuple[str, Any]]
) -> list[tuple[str, str]]:
    """Keep the first item of each id in ``firsts``; return (id, hash) of every later one."""
    repeats = []
    for item_id, digest, item in items:
        if item_id in firsts:
            repeats.append((item_id, digest))
        else:
            firsts[item_id] = (digest, item)
    return repeats


def _settle_repeats(
    repeats: Sequence[tuple[str, str]],
    firsts: Mapping[str, tuple[str, Any]],
    stored_hash: Mapping[str, str],
    result: WriteResult,
) -> None:
    """A later item with an id seen earlier in the batch is judged against what the store holds
    for that id once the batch is in: the same content is a duplicate, other content a conflict
    (and a repeat of a feedback event for an unknown response is unknown too)."""
    unknown = {key[0] for key in result.unknown}
    for item_id, digest in repeats:
        if item_id in unknown:
            result.unknown.append((item_id, digest))
            continue
        final = stored_hash.get(item_id, firsts[item_id][0])
        if digest == final:
            result.duplicates.append(item_id)
        else:
            result.conflicts.append((item_id, digest))


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
