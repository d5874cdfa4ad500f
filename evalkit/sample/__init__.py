"""Sampling: which responses humans review, with known inclusion probabilities.

Public surface: ``enqueue_flagged(db, response_ids, *, reason, priority, due_in)`` (the guard's
and learn's way in: strategy ``flagged``/``suspect``, high priority, a due time),
``enqueue_selection`` (a sample, with its overlap share), ``add_gold`` (gold items).
"""

from evalkit.sample.enqueue import (
    DEFAULT_QUEUE,
    DEFAULT_SLA,
    HIGH_PRIORITY,
    PROBABILITY_STRATEGIES,
    TARGETED_STRATEGIES,
    add_gold,
    enqueue_flagged,
    enqueue_selection,
)

__all__ = [
    "DEFAULT_QUEUE",
    "DEFAULT_SLA",
    "HIGH_PRIORITY",
    "PROBABILITY_STRATEGIES",
    "TARGETED_STRATEGIES",
    "add_gold",
    "enqueue_flagged",
    "enqueue_selection",
]
