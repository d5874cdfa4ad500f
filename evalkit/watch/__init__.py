"""Watch: the quality index — unbiased rates with intervals, drift, cohort gaps and alerts.

The core is pure functions over arrays and DataFrames (``estimate``, ``compare``, ``drift``,
``embed_drift``); the rest reads the store through ``evalkit.store.watch`` and
``evalkit.review.final_labels`` and never sees a session.
"""
