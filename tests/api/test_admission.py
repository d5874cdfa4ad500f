"""Ingest requests are admitted in arrival order: a place freed goes to the oldest waiter, never
to a request that arrived after it (``threading.Semaphore`` lets newcomers barge in)."""

from __future__ import annotations

import threading
import time

from evalkit.api.schemas import FifoGate


def _waiters(gate: FifoGate) -> int:
    return len(gate._waiting)


def _until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.001)


def test_places_go_to_waiters_in_arrival_order_and_newcomers_queue_behind():
    gate = FifoGate(2)
    admitted: list[int] = []
    release = {i: threading.Event() for i in range(8)}

    def request(i: int) -> None:
        with gate:
            admitted.append(i)
            release[i].wait(5)

    threads = []

    def arrive(i: int) -> None:
        waiting = _waiters(gate)
        thread = threading.Thread(target=request, args=(i,))
        thread.start()
        threads.append(thread)
        if len(threads) > 2:  # past the two free places: wait until it is queued
            _until(lambda: _waiters(gate) == waiting + 1)

    for i in range(6):
        arrive(i)
    _until(lambda: admitted == [0, 1])
    release[0].set()
    _until(lambda: admitted == [0, 1, 2])
    # A place is free only for an instant after each release; newcomers still queue behind.
    arrive(6)
    arrive(7)
    for i in (1, 2, 3, 4, 5):  # each release admits exactly the next in line
        release[i].set()
        _until(lambda i=i: len(admitted) == i + 3)
    release[6].set()
    release[7].set()
    for thread in threads:
        thread.join(5)
    assert admitted == list(range(8))
    assert gate._free == 2 and _waiters(gate) == 0


def test_an_idle_gate_admits_at_once_up_to_its_size():
    gate = FifoGate(3)
    with gate, gate, gate:
        assert gate._free == 0
    assert gate._free == 3
