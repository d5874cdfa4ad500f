"""What the Recorder's request threads and its writer thread share.

The request path (``evalkit.capture.recorder``) and the writer thread
(``evalkit.capture.recorder.writer``) live in different modules; everything they exchange is
here, so either side can be read without the other.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from evalkit.capture.recorder.support import Kind, Throttle
from evalkit.records import RecordError

if TYPE_CHECKING:
    from evalkit.settings import Settings

OnError = Callable[[RecordError], object]


class RecorderConfig(Protocol):
    """The Recorder's public settings, read by the writer thread each time it uses them, so a
    change to one on a live Recorder applies from the next write on."""

    settings: Settings
    database_url: str
    flush_interval: float
    max_queue: int
    on_error: OnError | None


@dataclass
class RecorderStats:
    """A snapshot of what a Recorder has done since it was created (or forked)."""

    queued: int = 0  #: accepted onto the queue by record() / feedback()
    written: int = 0  #: stored
    duplicates: int = 0  #: already stored with the same content (a retried batch, a repeat)
    rejected: int = 0  #: turned away by validation or the store; logged and given to on_error
    dropped: int = 0  #: lost: queue or retry buffer full, after close, close timed out
    write_failures: int = 0  #: failed attempts to open or write the store
    last_error: str | None = None  #: the latest of those failures


class SharedState:
    """The queue from request threads to the writer, and every flag and counter both read or
    change.

    ``lock`` guards all of it; ``cond`` (on the same lock) announces flush progress and the
    writer's exit; ``wake`` cuts the writer's wait short. A forked child gets a new one.
    """

    def __init__(self, max_queue: int, *, closed: bool = False) -> None:
        self.lock = threading.Lock()
        self.cond = threading.Condition(self.lock)
        self.queue: queue.Queue[tuple[Kind, dict[str, Any]]] = queue.Queue(max_queue)
        self.wake = threading.Event()
        self.stats = RecorderStats()
        self.warn = Throttle()
        self.closed = closed  #: close() was called; records are dropped from then on
        self.abandon = False  #: close() timed out: the writer drops what it holds and stops
        self.flush_asked = 0  #: flush() tickets handed out
        self.flush_done = 0  #: the latest ticket whose records were all resolved
        self.writer_done = False  #: the writer thread has stopped
        self.exited_clean = True  #: ... and left nothing unwritten
