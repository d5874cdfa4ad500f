"""Watch: the quality index — unbiased rates with intervals, drift, cohort gaps and alerts.

The core is pure functions over arrays and DataFrames (``estimate``, ``compare``, ``drift``,
``embed_drift``, ``rules``, ``evaluate``); ``run`` reads the store through
``evalkit.store.watch`` and ``evalkit.review.final_labels``, keeps alerts and notifies.

Public surface:
    ``evaluate_rules(db, settings, rules=None, *, at=None, notify=True, encode=None,
    record=True) -> WatchRun`` (``rules``: a YAML path, a list of ``Rule``, or None for
    ``EVALKIT_WATCH_RULES`` / the built-ins; ``WatchRun.red`` lists the red cells);
    ``load_rules(path)``; ``QualityIndexCollector(db, settings)`` for ``/metrics``;
    ``write_report(db, settings, rules, out)``.
"""

from evalkit.watch.rules import Rule, load_rules
from evalkit.watch.run import WatchRun, evaluate_rules

__all__ = ["Rule", "WatchRun", "evaluate_rules", "load_rules"]
