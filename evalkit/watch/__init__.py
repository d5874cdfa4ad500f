"""Watch: the quality index — unbiased rates with intervals, drift, cohort gaps and alerts.

The core is pure functions over arrays and DataFrames (``estimate``, ``compare``, ``drift``,
``embed_drift``, ``rules``, ``evaluate``); ``run`` reads the store through
``evalkit.store.watch`` and ``evalkit.review.final_labels``, keeps alerts and notifies.

Public surface (imported on first use, so ``evalkit.watch.metrics`` stays light for the API):
    ``evaluate_rules(db, settings, rules=None, *, at=None, notify=True, encode=None,
    record=True) -> WatchRun`` (``rules``: a YAML path, a list of ``Rule``, or None for
    ``EVALKIT_WATCH_RULES`` / the built-ins; ``WatchRun.red`` lists the red cells);
    ``load_rules(path)``; ``QualityIndexCollector(db, settings)`` for ``/metrics``
    (``evalkit.watch.metrics``); ``write_report(db, settings, rules, out)``
    (``evalkit.watch.report``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["Rule", "WatchRun", "evaluate_rules", "load_rules"]


def __getattr__(name: str) -> Any:
    if name in ("Rule", "load_rules"):
        from evalkit.watch import rules

        return getattr(rules, name)
    if name in ("WatchRun", "evaluate_rules"):
        from evalkit.watch import run

        return getattr(run, name)
    raise AttributeError(f"module 'evalkit.watch' has no attribute {name!r}")
