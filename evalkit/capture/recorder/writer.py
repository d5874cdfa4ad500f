"""The Recorder's background thread: when to write, how long to back off, and how it stops.

Timing is kept apart from the writing itself (``delivery``) because it is where the
Recorder's promises to the caller are kept: ``flush()`` returns once its ticket is served,
``close()`` stops the thread after one last write, and a store outage slows retries down
instead of spinning.
"""

from __future__ import annotations

import random
import time

from evalkit.capture.recorder.delivery import Delivery
from evalkit.capture.recorder.state import RecorderConfig, SharedState

#: Retry delay after a failed write: starts here, doubles, stops growing at the cap. Each wait is
#: jittered down by up to half so a fleet of services does not reconnect in lockstep.
BACKOFF_START = 0.1
BACKOFF_CAP = 30.0


def run_writer(
    shared: SharedState, delivery: Delivery, config: RecorderConfig, *, wake_at: int
) -> None:
    """The writer thread's body: every ``flush_interval`` seconds, or when woken (a flush, a
    close, ``wake_at`` records queued), drain the queue and write; back off while the store
    fails. Returns after close() once everything is written, or when close() gives up."""
    delay = 0.0  # current backoff; 0 while the store is healthy
    retry_at = 0.0
    attempted: tuple[int, bool] = (0, False)  # (flush ticket, closing) at the last attempt
    lost = False
    try:
        while True:
            shared.wake.wait(
                max(0.0, retry_at - time.monotonic()) if delay else config.flush_interval
            )
            shared.wake.clear()
            with shared.lock:
                closing, abandon, ticket = shared.closed, shared.abandon, shared.flush_asked
            try:
                delivery.drain()
                if abandon:
                    lost = delivery.drop_all() > 0
                    return
                urgent = (ticket, closing) != attempted
                if delay and not urgent and time.monotonic() < retry_at:
                    continue  # woken by a full queue while backing off: buffered, keep waiting
                attempted = (ticket, closing)
                written = delivery.write_all()
            except Exception as exc:  # a bug of ours must not stop recording
                shared.warn("bug", "evalkit recorder: writer error", exc_info=True)
                delivery.note_failure(exc)
                written = False
            if not written:
                delay = min(BACKOFF_CAP, delay * 2 or BACKOFF_START)
                retry_at = time.monotonic() + delay * random.uniform(0.5, 1.0)
                continue
            delay = 0.0
            with shared.cond:
                shared.flush_done = max(shared.flush_done, ticket)
                shared.cond.notify_all()
            if closing:  # everything queued before close() was drained and written
                return
            if shared.queue.qsize() >= wake_at:
                shared.wake.set()
    finally:
        delivery.close()
        with shared.cond:
            shared.writer_done = True
            shared.exited_clean = not lost and not (shared.queue.qsize() + delivery.pending())
            shared.cond.notify_all()
