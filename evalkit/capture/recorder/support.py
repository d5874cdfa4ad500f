"""What the SDK's writer thread needs besides writing: throttled warnings, telling a store
outage from a bad record, and errors pointed at the caller's call."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, Literal

from evalkit.errors import StoreError
from evalkit.records import RecordError

log = logging.getLogger("evalkit.recorder")

Kind = Literal["responses", "feedback"]
#: At most one warning per kind of trouble in this many seconds.
WARN_EVERY = 10.0


class Throttle:
    """At most one warning per key every WARN_EVERY seconds, saying how many were held back."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def __call__(self, key: str, message: str, *args: Any, exc_info: bool = False) -> None:
        now = time.monotonic()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < WARN_EVERY:
                self._held[key] = self._held.get(key, 0) + 1
                return
            self._last[key] = now
            held = self._held.pop(key, 0)
        if held:
            message += f" ({held} more like this in the last {WARN_EVERY:.0f} s not shown)"
        log.warning(message, *args, exc_info=exc_info)


def is_transient(exc: BaseException) -> bool:
    """A failure of the store rather than of a record: keep the batch and retry it later.

    ``evalkit.store`` raises ``StoreError`` for every failure of the store itself (server down,
    connection lost, SQLite locked or read-only, a read-only failover, disk full, pool
    exhausted), whether SQLAlchemy or the driver reported it; OSError covers the SQLite file.
    """
    return isinstance(exc, StoreError | OSError)


def first_line(exc: BaseException) -> str:
    # Only the first line: SQLAlchemy appends the statement and its parameters (record content).
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def for_caller(err: RecordError, kind: Kind, raws: list[dict[str, Any]]) -> RecordError:
    """Point an ingest error at the call that queued the record rather than at a batch index."""
    raw: Mapping[str, Any] = {}
    index = err.location.removeprefix("record ")
    if index.isdigit() and 0 < int(index) <= len(raws):
        raw = raws[int(index) - 1]
    rid = raw.get("id")
    return replace(
        err,
        location="record()" if kind == "responses" else "feedback()",
        record_id=rid if isinstance(rid, str) and rid else None,
    )
